"""Check every raw record against the rules; collect every problem, never stop at the first."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.channels import ContactChannel
from bot.domain.windows import local_midnight
from bot.ingest.rows import (
    COUNT_COLUMNS,
    INTERVALS,
    PART_OF,
    REQUIRED,
    ErrorLog,
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
        # the first instant of the local day: 00:00, or where a DST change skips midnight (Cairo,
        # Havana, Santiago) the moment the clocks jump to; compared as instants
        return None if start.astimezone(UTC) == local_midnight(local.date(), tz).astimezone(UTC) else \
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
        return local_midnight(start.astimezone(tz).date() + timedelta(days=1), tz)
    return start + timedelta(minutes=minutes)


def validate(records: Sequence[RawRecord], partners: Mapping[str, PartnerInfo]) -> tuple[list[IngestRow], list[RowError]]:
    """Return the valid rows and every error; the caller writes nothing when errors exist."""
    log = ErrorLog(cap=2**62)  # every error: callers of this list form hold the whole input anyway
    checker = Validator(partners, log)
    rows = checker.check(records)
    checker.finish()
    return rows, log.errors


class Validator:
    """Check records chunk by chunk; remember only what the overlap check needs (a few numbers a row).

    Row problems go to ``errors`` as they are found; :meth:`finish` adds the rows that repeat or
    overlap another row of the file, wherever in the file that row is.
    """

    def __init__(self, partners: Mapping[str, PartnerInfo], errors: ErrorLog) -> None:
        self.partners = partners
        self.errors = errors
        self._zones = {slug: ZoneInfo(info.timezone) for slug, info in partners.items()}
        # (partner, site, channel) -> columns of starts, ends (POSIX seconds), minutes, count mask, position
        self._spans: dict[tuple[str, str, str], tuple[array, array, array, array, array]] = {}
        self._prefix: str | None = None
        self._odd: list[str] = []  # wheres that are not "<word> <number>" (kept whole, as negative positions)

    def check(self, records: Iterable[RawRecord]) -> list[IngestRow]:
        """Return the valid rows of these records; record their problems."""
        rows = []
        add = self.errors.add
        for rec in records:
            row, row_errors = _check(rec, self.partners)
            for error in row_errors:
                add(error)
            if row is not None:
                rows.append(row)
                self._remember(row)
        return rows

    def _remember(self, row: IngestRow) -> None:
        key = (row.partner, row.site, row.channel)
        cols = self._spans.get(key)
        if cols is None:
            cols = self._spans[key] = (array("d"), array("d"), array("h"), array("q"), array("q"))
        prefix, _, number = row.where.rpartition(" ")
        if self._prefix is None:
            self._prefix = prefix
        if prefix == self._prefix and number.isdigit():
            position = int(number)
        else:
            self._odd.append(row.where)
            position = -len(self._odd)
        mask = 0
        for col in row.counts:
            mask |= _BIT[col]
        cols[0].append(row.start.timestamp())
        cols[1].append(interval_end(row.start, row.minutes, self._zones[row.partner]).timestamp())
        cols[2].append(row.minutes)
        cols[3].append(mask)
        cols[4].append(position)

    def _where(self, position: int) -> str:
        return self._odd[-position - 1] if position < 0 else f"{self._prefix} {position}"

    def finish(self) -> None:
        """Find rows of one scope whose periods overlap and that measure the same counts."""
        add = self.errors.add
        for (partner, site, channel), (starts, ends, minutes, masks, positions) in self._spans.items():
            order = sorted(range(len(starts)), key=starts.__getitem__)
            for i, a in enumerate(order):
                start, end, mask = starts[a], ends[a], masks[a]
                for b in order[i + 1:]:
                    if starts[b] >= end:
                        break
                    shared = mask & masks[b]
                    if not shared:
                        continue  # a daily survey row beside 15-minute call rows measures other things
                    names = sorted(c for c in COUNT_COLUMNS if shared & _BIT[c])
                    what = "duplicates" if (starts[b], minutes[b]) == (start, minutes[a]) else "overlaps"
                    add(RowError(self._where(positions[b]), "interval_start",
                                 f"{what} {self._where(positions[a])} for {partner}/{site or '-'}/{channel} "
                                 f"({', '.join(names[:3])})"))
        self._spans.clear()


_BIT = {c: 1 << i for i, c in enumerate(COUNT_COLUMNS)}


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
        raw = v.get(col)
        if raw is None or raw == "":  # not measured (most columns of most rows: skip the call)
            continue
        try:
            n = _number(raw, whole=col not in FRACTIONAL)
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
