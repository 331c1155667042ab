"""Read a JSON batch into raw records numbered by their index in the list (from 0)."""

from __future__ import annotations

import json

from bot.ingest.rows import COLUMNS, FormatError, RawRecord, RowError


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str | bytes) -> tuple[list[RawRecord], list[RowError]]:
    """Parse ``{"measurements": [...]}`` or a bare list; items count from 0."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) \
            else "the body is not UTF-8"
        raise FormatError(f"not valid JSON: {detail}") from exc
    except ValueError as exc:  # NaN/Infinity: Python's json accepts them, the JSON spec does not
        raise FormatError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:  # 100k nested brackets: no measurement batch looks like that
        raise FormatError("not valid JSON for a batch: nested too deeply") from exc
    items = data.get("measurements") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FormatError('expected a list of measurements or {"measurements": [...]}')
    records, errors = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(RowError(f"item {i}", None, "each measurement must be an object"))
            continue
        unknown = [k for k in item if k not in COLUMNS]
        for key in unknown:
            errors.append(RowError(f"item {i}", key, "unknown field; the fields are the CSV columns (see README)"))
        if unknown:
            continue
        records.append(RawRecord(f"item {i}", item))
    return records, errors
