"""Check every raw record against the rules; collect every problem, never stop at the first."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.channels import ContactChannel
from bot.ingest.rows import (
    COUNT_COLUMNS,
    INTERVALS,
    PART_OF,
    REQUIRED,
    IngestRow,
    RawRecord,
    RowError,
)

_CHANNELS = {c.value for c in ContactChannel}


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    id: int
    timezone: str
    sites: Mapping[str, int]  # site key -> site id


# Plain ASCII decimals only: float() would also take "1e300", "1_000", "inf" and Arabic-Indic digits.
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,9})?")
# No export counts a trillion of anything in one interval; bigger is a unit or column mistake.
COUNT_MAX = 10**12
# Seconds and points may carry decimals; every other count is a number of contacts, people or items.
FRACTIONAL = frozenset(c for c in COUNT_COLUMNS if c.endswith(("_seconds", "_points", "qa_max")))
# Years a measurement can be about; outside them the time zone arithmetic has no meaning (or overflows).
YEARS = (1970, 2100)


def _number(value: object, *, whole: bool = False) -> float | None:
    """Read a count strictly: a JSON number or a plain decimal string, finite, within COUNT_MAX."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise ValueError("is not a plain decimal number (digits 0-9, an optional point; no exponent or separators)")
        value = float(text) if "." in text else int(text)
    if isinstance(value, int) and abs(value) > COUNT_MAX:  # compared as an int: a 400-digit one can't be a float
        raise ValueError(f"is out of range (at most {COUNT_MAX:,})")
    number = float(value)
    if not math.isfinite(number) or abs(number) > COUNT_MAX:
        raise ValueError(f"is out of range (at most {COUNT_MAX:,})")
    if whole and not number.is_integer():
        raise ValueError("must be a whole number")
    return number


def _minutes(start: datetime, minutes: int, tz: ZoneInfo) -> str | None:
    """Say why an interval start does not align to its length in the partner's time, or None."""
    local = start.astimezone(tz)
    if minutes == 1440:
        return None if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0) else \
            f"is {local.strftime('%H:%M')} in {tz.key}; a daily row must start at local midnight"
    # Offsets such as +05:30 shift hour boundaries, so alignment is judged on local time.
    misaligned = local.second or local.microsecond or local.minute % minutes
    if misaligned:
        return (f"is {local.strftime('%H:%M:%S')} in {tz.key}; a {minutes}-minute interval must start "
                f"on a {minutes}-minute boundary")
    return None


def interval_end(start: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """Return the end of an interval; a daily row ends at the next local midnight (23-25 h across DST)."""
    if minutes == 1440:
        local = start.astimezone(tz)
        nxt = (local.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
        return nxt
    return start + timedelta(minutes=minutes)


def validate(records: Sequence[RawRecord], partners: Mapping[str, PartnerInfo]) -> tuple[list[IngestRow], list[RowError]]:
    """Return the valid rows and every error; the caller writes nothing when errors exist."""
    rows: list[IngestRow] = []
    errors: list[RowError] = []
    for rec in records:
        row, row_errors = _check(rec, partners)
        errors += row_errors
        if row is not None:
            rows.append(row)
    errors += _overlaps(rows, partners)
    return rows, errors


def _check(rec: RawRecord, partners: Mapping[str, PartnerInfo]) -> tuple[IngestRow | None, list[RowError]]:
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
    start: datetime | None = None
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
                err("interval_start", f"'{raw_start}' has no UTC offset; write e.g. 2026-11-16T08:15:00+01:00 or ...Z")
                start = None
        except ValueError:
            err("interval_start", f"'{raw_start}' is not an ISO 8601 time")
    minutes: int | None = None
    raw_minutes = v.get("interval_minutes")
    if "interval_minutes" not in absent:
        try:
            if isinstance(raw_minutes, bool) or isinstance(raw_minutes, float) and not raw_minutes.is_integer():
                raise ValueError("not a whole number")
            if isinstance(raw_minutes, str) and not (raw_minutes.strip().isascii() and raw_minutes.strip().isdigit()):
                raise ValueError("not plain digits")
            if isinstance(raw_minutes, int) and abs(raw_minutes) > COUNT_MAX:
                raise ValueError("out of range")
            minutes = int(float(raw_minutes)) if isinstance(raw_minutes, float) else int(str(raw_minutes).strip())
            if minutes not in INTERVALS:
                err("interval_minutes", f"{minutes} is not an interval length; use {', '.join(map(str, INTERVALS))}")
                minutes = None
        except ValueError:
            err("interval_minutes", f"'{raw_minutes}' is not a whole number of minutes")
    if start is not None and minutes is not None and info is not None:
        problem = _minutes(start, minutes, ZoneInfo(info.timezone))
        if problem:
            err("interval_start", problem)
    counts: dict[str, float] = {}
    for col in COUNT_COLUMNS:
        try:
            n = _number(v.get(col), whole=col not in FRACTIONAL)
        except (TypeError, ValueError, OverflowError) as exc:
            shown = str(v.get(col))
            err(col, f"'{shown if len(shown) <= 40 else shown[:37] + '...'}' {exc}")
            continue
        if n is None:
            continue
        if n < 0:
            err(col, f"is negative ({n:g})")
            continue
        counts[col] = n
    for part, whole in PART_OF:
        if part in counts and whole in counts and counts[part] > counts[whole]:
            err(part, f"({counts[part]:g}) is larger than {whole} ({counts[whole]:g})")
    if not counts and not errs:
        err(None, "the row carries no counts")
    if errs or start is None or minutes is None or info is None:
        return None, errs
    return IngestRow(where, slug, site, channel, start, minutes, counts), []


def _overlaps(rows: Sequence[IngestRow], partners: Mapping[str, PartnerInfo]) -> list[RowError]:
    """Find rows of one scope whose periods overlap and that measure the same counts."""
    errors: list[RowError] = []
    by_scope: dict[tuple[str, str, str], list[IngestRow]] = defaultdict(list)
    for r in rows:
        by_scope[(r.partner, r.site, r.channel)].append(r)
    for scope_rows in by_scope.values():
        tz = ZoneInfo(partners[scope_rows[0].partner].timezone)
        spans = sorted(((r.start, interval_end(r.start, r.minutes, tz), r) for r in scope_rows),
                       key=lambda t: t[0])
        for i, (start, end, row) in enumerate(spans):
            for start2, _end2, other in spans[i + 1:]:
                if start2 >= end:
                    break
                shared = set(row.counts) & set(other.counts)
                if not shared:
                    continue  # a daily survey row beside 15-minute call rows measures other things
                what = "duplicates" if (start2, other.minutes) == (start, row.minutes) else "overlaps"
                errors.append(RowError(other.where, "interval_start",
                                       f"{what} {row.where} for {row.partner}/{row.site or '-'}/{row.channel} "
                                       f"({', '.join(sorted(shared)[:3])})"))
    return errors
