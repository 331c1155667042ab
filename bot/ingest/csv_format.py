"""Read a CSV export into raw records numbered by their line in the file."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from bot.ingest.rows import COLUMNS, REQUIRED, FormatError, RawRecord, RowError


def parse_csv(text: str) -> tuple[list[RawRecord], list[RowError]]:
    """Parse a measurements CSV; the header is line 1, so the first data row is line 2."""
    return read_csv(text, columns=COLUMNS, required=REQUIRED,
                    unknown_hint="the columns are listed in README (Ingest formats)")


def read_csv(text: str, *, columns: Sequence[str], required: Sequence[str],
             unknown_hint: str) -> tuple[list[RawRecord], list[RowError]]:
    """Read CSV text with these columns into raw records; header problems are all reported on line 1."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise FormatError(f"the header line is not CSV: {exc}") from exc
    header = [h.strip() for h in (fieldnames or [])]
    if not header:
        raise FormatError("the file is empty: expected a header line with the column names")
    errors: list[RowError] = []
    unknown = [h for h in header if h not in columns]
    if unknown:
        errors.append(RowError("line 1", None, f"unknown column(s): {', '.join(unknown)}; {unknown_hint}"))
    missing = [c for c in required if c not in header]
    if missing:
        errors.append(RowError("line 1", None, f"missing required column(s): {', '.join(missing)}"))
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        errors.append(RowError("line 1", None, f"column(s) named twice: {', '.join(repeated)}"))
    if errors:
        return [], errors
    reader.fieldnames = header
    records = []
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                errors.append(RowError(where, None, f"{len(header) + len(row[None])} cells but "
                                                    f"{len(header)} columns"))
                continue
            # empty cells are absent values: keeping only the filled ones keeps a wide export small in memory
            values = {k: v.strip() for k, v in row.items() if isinstance(v, str) and v.strip()}
            records.append(RawRecord(where, values))
    except csv.Error as exc:
        errors.append(RowError(f"line {reader.line_num}", None, f"not readable as CSV: {exc}"))
    return records, errors
