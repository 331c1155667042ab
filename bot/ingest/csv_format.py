"""Read a CSV export into raw records numbered by their line in the file, line by line."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence

from bot.ingest.rows import COLUMNS, REQUIRED, ErrorLog, FormatError, RawRecord, RowError


def parse_csv(text: str) -> tuple[list[RawRecord], list[RowError]]:
    """Parse a measurements CSV; the header is line 1, so the first data row is line 2."""
    return read_csv(text, columns=COLUMNS, required=REQUIRED,
                    unknown_hint="the columns are listed in README (Ingest formats)")


def stream_csv(lines: Iterable[str]) -> CsvRecords:
    """Return the records of a measurements CSV read lazily from ``lines`` (a text file)."""
    return CsvRecords(lines, columns=COLUMNS, required=REQUIRED,
                      unknown_hint="the columns are listed in README (Ingest formats)")


def read_csv(text: str, *, columns: Sequence[str], required: Sequence[str],
             unknown_hint: str) -> tuple[list[RawRecord], list[RowError]]:
    """Read CSV text with these columns into raw records; header problems are all reported on line 1."""
    records = CsvRecords(io.StringIO(text), columns=columns, required=required, unknown_hint=unknown_hint)
    return list(records), records.errors.errors


class CsvRecords:
    """Iterate a CSV's records one line at a time; the header is checked at once, row problems land in ``errors``.

    Raises :class:`FormatError` when the file as a whole is unreadable (no header). After the
    iteration ``errors`` holds every problem found (the first :data:`MAX_ERRORS`, and a count).
    """

    def __init__(self, lines: Iterable[str], *, columns: Sequence[str], required: Sequence[str],
                 unknown_hint: str) -> None:
        lines = iter(lines)
        first = next(lines, "")
        self._reader = csv.DictReader(itertools.chain((first.lstrip("\ufeff"),), lines))
        self.errors = ErrorLog()
        try:
            fieldnames = self._reader.fieldnames
        except csv.Error as exc:
            raise FormatError(f"the header line is not CSV: {exc}") from exc
        header = [h.strip() for h in (fieldnames or [])]
        if not header:
            raise FormatError("the file is empty: expected a header line with the column names")
        unknown = [h for h in header if h not in columns]
        if unknown:
            self.errors.add(RowError("line 1", None, f"unknown column(s): {', '.join(unknown)}; {unknown_hint}"))
        missing = [c for c in required if c not in header]
        if missing:
            self.errors.add(RowError("line 1", None, f"missing required column(s): {', '.join(missing)}"))
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            self.errors.add(RowError("line 1", None, f"column(s) named twice: {', '.join(repeated)}"))
        self._header = header
        self._reader.fieldnames = header

    def __iter__(self) -> Iterator[RawRecord]:
        if self.errors:  # a bad header: no row can be read against it
            return
        reader, errors, width = self._reader, self.errors, len(self._header)
        try:
            for row in reader:
                if None in row:
                    errors.add(RowError(f"line {reader.line_num}", None,
                                        f"{width + len(row[None])} cells but {width} columns"))
                    continue
                # empty cells are absent values: keeping only the filled ones keeps a wide export small in memory
                values = {k: s for k, v in row.items() if isinstance(v, str) and (s := v.strip())}
                yield RawRecord(f"line {reader.line_num}", values)
        except csv.Error as exc:
            errors.add(RowError(f"line {reader.line_num}", None, f"not readable as CSV: {exc}"))
