"""Forecast and schedule rows: the CSV/JSON format, and their validation (every problem, never the first).

One row per partner / site / channel / interval carries a forecast (``forecast_contacts`` and
``forecast_aht_seconds``), a schedule (``scheduled_agents`` or ``scheduled_seconds``), or both.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.channels import ContactChannel
from bot.ingest.csv_format import read_csv
from bot.ingest.rows import FormatError, RawRecord, RowError
from bot.ingest.validate import COUNT_MAX, YEARS, PartnerInfo, _minutes, _number, interval_end

IDENTITY = ("partner", "site", "channel", "interval_start", "interval_minutes")
VALUES = ("forecast_contacts", "forecast_aht_seconds", "scheduled_agents", "scheduled_seconds")
COLUMNS = IDENTITY + VALUES
REQUIRED = ("partner", "channel", "interval_start", "interval_minutes")
INTERVALS = (15, 30, 60)  # Erlang C needs intervals, not days
JSON_KEY = "staffing"
_CHANNELS = {c.value for c in ContactChannel}


@dataclass(frozen=True, slots=True)
class StaffingRow:
    """One validated row; ``contacts``/``aht`` set for a forecast, ``agents`` for a schedule."""

    where: str
    partner: str
    site: str
    channel: str
    start: datetime
    minutes: int
    contacts: float | None = None
    aht: float | None = None
    agents: float | None = None

    @property
    def kinds(self) -> set[str]:
        return {k for k, v in (("forecast", self.contacts), ("schedule", self.agents)) if v is not None}


def parse_csv(text: str) -> tuple[list[RawRecord], list[RowError]]:
    """Parse a staffing CSV; the header is line 1, so the first data row is line 2."""
    return read_csv(text, columns=COLUMNS, required=REQUIRED,
                    unknown_hint=f"the staffing columns are {', '.join(COLUMNS)}")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str | bytes) -> tuple[list[RawRecord], list[RowError]]:
    """Parse ``{"staffing": [...]}`` or a bare list; items count from 0."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except UnicodeDecodeError as exc:
        raise FormatError("not valid JSON: the body is not UTF-8") from exc
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise FormatError("not valid JSON for a batch: nested too deeply") from exc
    items = data.get(JSON_KEY) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FormatError(f'expected a list of rows or {{"{JSON_KEY}": [...]}}')
    records, errors = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(RowError(f"item {i}", None, "each row must be an object"))
            continue
        unknown = [k for k in item if k not in COLUMNS]
        for key in unknown:
            errors.append(RowError(f"item {i}", key, f"unknown field; the fields are {', '.join(COLUMNS)}"))
        if not unknown:
            records.append(RawRecord(f"item {i}", item))
    return records, errors


def validate(records: Sequence[RawRecord], partners: Mapping[str, PartnerInfo]) -> tuple[list[StaffingRow], list[RowError]]:
    """Return the valid rows and every error; the caller writes nothing when errors exist."""
    rows, errors = [], []
    for rec in records:
        row, problems = _check(rec, partners)
        errors += problems
        if row is not None:
            rows.append(row)
    return rows, errors + _overlaps(rows, partners)


def _check(rec: RawRecord, partners: Mapping[str, PartnerInfo]) -> tuple[StaffingRow | None, list[RowError]]:
    v, where = rec.values, rec.where
    errs: list[RowError] = []

    def err(field: str | None, message: str) -> None:
        errs.append(RowError(where, field, message))

    absent = {c for c in REQUIRED if v.get(c) is None or str(v.get(c)).strip() == ""}
    for col in REQUIRED:
        if col in absent:
            err(col, "is missing")
    slug = str(v.get("partner") or "").strip()
    site = str(v.get("site") or "").strip()
    channel = str(v.get("channel") or "").strip().lower()
    info = partners.get(slug)
    if info is None and "partner" not in absent:
        err("partner", f"'{slug}' is unknown (known: {', '.join(sorted(partners)) or 'none'})")
    elif info is not None and site and site not in info.sites:
        err("site", f"'{site}' is not a site of {slug} (its sites: {', '.join(sorted(info.sites)) or 'none'})")
    if channel not in _CHANNELS and "channel" not in absent:
        err("channel", f"'{v.get('channel')}' is unknown; use one of {', '.join(sorted(_CHANNELS))}")
    start = None
    raw_start = v.get("interval_start")
    if "interval_start" not in absent:
        try:
            if not isinstance(raw_start, str):
                raise ValueError("not a string")
            start = datetime.fromisoformat(raw_start.replace("Z", "+00:00"))
            if not YEARS[0] <= start.year <= YEARS[1]:
                err("interval_start", f"'{raw_start}' is out of range (years {YEARS[0]} to {YEARS[1]})")
                start = None
            elif start.tzinfo is None:
                err("interval_start", f"'{raw_start}' has no UTC offset; write e.g. 2026-12-07T08:15:00+01:00 or ...Z")
                start = None
        except ValueError:
            err("interval_start", f"'{raw_start}' is not an ISO 8601 time")
    minutes = None
    raw_minutes = v.get("interval_minutes")
    if "interval_minutes" not in absent:
        try:
            if isinstance(raw_minutes, bool) or isinstance(raw_minutes, float) and not raw_minutes.is_integer():
                raise ValueError("not whole")
            if isinstance(raw_minutes, str) and not (raw_minutes.strip().isascii() and raw_minutes.strip().isdigit()):
                raise ValueError("not plain digits")
            if isinstance(raw_minutes, int) and abs(raw_minutes) > COUNT_MAX:
                raise ValueError("out of range")
            minutes = int(raw_minutes) if isinstance(raw_minutes, (int, float)) else int(str(raw_minutes).strip())
            if minutes not in INTERVALS:
                err("interval_minutes", f"{minutes} is not a staffing interval; use {', '.join(map(str, INTERVALS))}")
                minutes = None
        except ValueError:
            err("interval_minutes", f"'{raw_minutes}' is not a whole number of minutes")
    if start is not None and minutes is not None and info is not None:
        problem = _minutes(start, minutes, ZoneInfo(info.timezone))
        if problem:
            err("interval_start", problem)
    values: dict[str, float] = {}
    for col in VALUES:
        try:
            n = _number(v.get(col))
        except (TypeError, ValueError, OverflowError) as exc:
            shown = str(v.get(col))
            err(col, f"'{shown if len(shown) <= 40 else shown[:37] + '...'}' {exc}")
            continue
        if n is None:
            continue
        if n < 0:
            err(col, f"is negative ({n:g})")
            continue
        values[col] = n
    contacts, aht = values.get("forecast_contacts"), values.get("forecast_aht_seconds")
    if (contacts is None) != (aht is None) and not errs:
        given, other = ("forecast_contacts", "forecast_aht_seconds") if aht is None else \
            ("forecast_aht_seconds", "forecast_contacts")
        err(other, f"is missing; a forecast needs both forecast_contacts and forecast_aht_seconds ({given} is given)")
    if contacts and aht == 0:
        err("forecast_aht_seconds", f"is 0 for {contacts:g} contacts; contacts take time to handle")
    agents = values.get("scheduled_agents")
    seconds = values.get("scheduled_seconds")
    if agents is not None and seconds is not None:
        err("scheduled_seconds", "is given with scheduled_agents; send one of them")
    elif agents is not None and not agents.is_integer():
        err("scheduled_agents", f"({agents:g}) is not a whole number of agents; send scheduled_seconds "
                                "for shifts that cover part of an interval")
    if seconds is not None and minutes is not None:
        agents = seconds / (minutes * 60)
    if contacts is None and agents is None and seconds is None and not errs:
        err(None, "the row carries neither a forecast nor a schedule")
    if errs or start is None or minutes is None or info is None:
        return None, errs
    return StaffingRow(where, slug, site, channel, start, minutes, contacts, aht, agents), []


def _overlaps(rows: Sequence[StaffingRow], partners: Mapping[str, PartnerInfo]) -> list[RowError]:
    """Find rows of one scope and kind (forecast or schedule) whose intervals overlap."""
    errors = []
    by_scope: dict[tuple[str, str, str, str], list[StaffingRow]] = defaultdict(list)
    for r in rows:
        for kind in r.kinds:
            by_scope[(r.partner, r.site, r.channel, kind)].append(r)
    for (partner, site, channel, kind), scope_rows in by_scope.items():
        tz = ZoneInfo(partners[partner].timezone)
        spans = sorted(((r.start, interval_end(r.start, r.minutes, tz), r) for r in scope_rows), key=lambda t: t[0])
        for i, (start, end, row) in enumerate(spans):
            for start2, _end2, other in spans[i + 1:]:
                if start2 >= end:
                    break
                what = "duplicates" if (start2, other.minutes) == (start, row.minutes) else "overlaps"
                errors.append(RowError(other.where, "interval_start",
                                       f"{what} {row.where} for {partner}/{site or '-'}/{channel} ({kind})"))
    return errors
