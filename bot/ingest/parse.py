"""Read CSV and JSON exports into raw records tagged with where they came from."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from bot.ingest.rows import COLUMNS, REQUIRED, RowError


@dataclass(frozen=True, slots=True)
class RawRecord:
    where: str
    values: dict[str, Any]


class FormatError(ValueError):
    """The file as a whole can't be read (not a row problem)."""


def parse_csv(text: str) -> tuple[list[RawRecord], list[RowError]]:
    """Parse CSV text; the header is line 1, so the first data row is line 2."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise FormatError("the file is empty: expected a header line with the column names")
    errors: list[RowError] = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        errors.append(RowError("line 1", None, f"unknown column(s): {', '.join(unknown)}; "
                                               f"the columns are listed in README (Ingest formats)"))
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(RowError("line 1", None, f"missing required column(s): {', '.join(missing)}"))
    if errors:
        return [], errors
    reader.fieldnames = header
    records = []
    for row in reader:
        values = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
        if None in row:
            errors.append(RowError(f"line {reader.line_num}", None, "more cells than columns"))
            continue
        records.append(RawRecord(f"line {reader.line_num}", values))
    return records, errors


def parse_json(text: str | bytes) -> tuple[list[RawRecord], list[RowError]]:
    """Parse ``{"measurements": [...]}`` or a bare list; items count from 0."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    items = data.get("measurements") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FormatError('expected a list of measurements or {"measurements": [...]}')
    records, errors = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(RowError(f"item {i}", None, "each measurement must be an object"))
            continue
        unknown = [k for k in item if k not in COLUMNS]
        if unknown:
            errors.append(RowError(f"item {i}", unknown[0], f"unknown field(s): {', '.join(unknown)}"))
            continue
        records.append(RawRecord(f"item {i}", item))
    return records, errors
