"""Time windows in a partner's own timezone: calendar units, rolling days, explicit ranges.

A window is half-open ``[start, end)``; both ends are timezone-aware datetimes in the
partner's zone. Storage compares in UTC (``start_utc``/``end_utc``). Windows are built from
local calendar dates so a week containing a DST change is still Monday 00:00 to Monday 00:00
local time (167 or 169 hours long).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    DAYS = "days"  # a rolling run of ``length`` local days
    RANGE = "range"  # an explicit date range; shifts by its own length


class WindowError(ValueError):
    """Raised for a window spec nobody can read; the message says what is accepted."""


WINDOW_HELP = (
    "today, yesterday, this-week, last-week, 7d, 28d, this-month, last-month, quarter, "
    "last-quarter, YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn"
)
WINDOW_WORDS = (
    "today", "yesterday", "this-week", "last-week", "7d", "28d", "this-month",
    "last-month", "quarter", "this-quarter", "last-quarter",
)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Return 00:00 local time of ``day`` in ``tz`` as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=tz)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    granularity: Granularity
    length: int = 1  # number of days for DAYS/RANGE windows; unused otherwise

    @property
    def tz(self) -> ZoneInfo:
        assert isinstance(self.start.tzinfo, ZoneInfo)
        return self.start.tzinfo

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    @property
    def label(self) -> str:
        """Name the window the way people say it: 2026-W46, Nov 2026, 2026-11-10..2026-11-16."""
        s = self.start
        last_day = (self.end - timedelta(microseconds=1)).date()
        match self.granularity:
            case Granularity.HOUR:
                return s.strftime("%Y-%m-%d %H:00")
            case Granularity.DAY:
                return s.strftime("%a %Y-%m-%d")
            case Granularity.WEEK:
                iso = s.date().isocalendar()
                return f"{iso.year}-W{iso.week:02d}"
            case Granularity.MONTH:
                return s.strftime("%b %Y")
            case Granularity.QUARTER:
                return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
            case _:
                return f"{s.date().isoformat()}..{last_day.isoformat()}"

    @property
    def short_label(self) -> str:
        """Name the window compactly for chart axes and sparklines."""
        match self.granularity:
            case Granularity.HOUR:
                return self.start.strftime("%H:00")
            case Granularity.DAY:
                return self.start.strftime("%m-%d")
            case Granularity.WEEK:
                return f"W{self.start.date().isocalendar().week:02d}"
            case Granularity.MONTH:
                return self.start.strftime("%b")
            case Granularity.QUARTER:
                return f"Q{(self.start.month - 1) // 3 + 1}"
            case _:
                return self.start.strftime("%m-%d")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def shift(self, steps: int) -> Window:
        """Return the window ``steps`` units later (negative: earlier), same shape."""
        tz = self.tz
        d = self.start.date()
        match self.granularity:
            case Granularity.HOUR:
                start = (self.start_utc + timedelta(hours=steps)).astimezone(tz)
                return replace(self, start=start, end=(start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz))
            case Granularity.DAY:
                nd = d + timedelta(days=steps)
                return replace(self, start=local_midnight(nd, tz), end=local_midnight(nd + timedelta(days=1), tz))
            case Granularity.WEEK:
                nd = d + timedelta(weeks=steps)
                return replace(self, start=local_midnight(nd, tz), end=local_midnight(nd + timedelta(weeks=1), tz))
            case Granularity.MONTH:
                nd = _add_months(d, steps)
                return replace(self, start=local_midnight(nd, tz), end=local_midnight(_add_months(nd, 1), tz))
            case Granularity.QUARTER:
                nd = _add_months(d, 3 * steps)
                return replace(self, start=local_midnight(nd, tz), end=local_midnight(_add_months(nd, 3), tz))
            case _:
                nd = d + timedelta(days=steps * self.length)
                return replace(self, start=local_midnight(nd, tz), end=local_midnight(nd + timedelta(days=self.length), tz))

    def previous(self) -> Window:
        return self.shift(-1)

    def series(self, count: int) -> list[Window]:
        """Return the ``count`` windows ending with this one, oldest first."""
        return [self.shift(-i) for i in range(count - 1, -1, -1)]


def window_containing(granularity: Granularity, moment: datetime, tz: ZoneInfo | str) -> Window:
    """Return the calendar window of ``granularity`` that contains ``moment`` in ``tz``."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = moment.astimezone(zone)
    d = local.date()
    match granularity:
        case Granularity.HOUR:
            start_utc = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            return Window(start_utc.astimezone(zone), (start_utc + timedelta(hours=1)).astimezone(zone), granularity)
        case Granularity.DAY:
            return Window(local_midnight(d, zone), local_midnight(d + timedelta(days=1), zone), granularity)
        case Granularity.WEEK:
            monday = d - timedelta(days=d.weekday())
            return Window(local_midnight(monday, zone), local_midnight(monday + timedelta(weeks=1), zone), granularity)
        case Granularity.MONTH:
            first = _month_start(d)
            return Window(local_midnight(first, zone), local_midnight(_add_months(first, 1), zone), granularity)
        case Granularity.QUARTER:
            first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
            return Window(local_midnight(first, zone), local_midnight(_add_months(first, 3), zone), granularity)
    raise ValueError(f"no calendar window for {granularity}")


def days_window(first: date, last: date, tz: ZoneInfo, granularity: Granularity = Granularity.RANGE) -> Window:
    """Return the window covering local dates ``first``..``last`` inclusive."""
    if last < first:
        raise WindowError(f"the range ends ({last}) before it starts ({first})")
    length = (last - first).days + 1
    return Window(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz), granularity, length)


_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-?w(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?q([1-4])$")
_ROLLING = re.compile(r"^(\d{1,3})d$")


def looks_like_window(token: str) -> bool:
    """Tell whether ``token`` is meant as a window (so the grammar can route it)."""
    t = token.lower()
    return (
        t in WINDOW_WORDS
        or any(p.match(t) for p in (_RANGE, _DAY, _WEEK, _MONTH, _QUARTER, _ROLLING))
    )


YEARS = (1970, 2100)


def parse_window(spec: str, *, now: datetime, tz: ZoneInfo | str) -> Window:
    """Resolve a window spec relative to ``now`` in the partner's timezone.

    Raises WindowError with the accepted forms when the spec can't be read.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    t = spec.strip().lower()
    today = now.astimezone(zone).date()
    # years far off have no data and overflow the calendar in trends (0001-Q1, 9999-12-31)
    if any(not YEARS[0] <= int(y) <= YEARS[1] for y in re.findall(r"(?<![0-9])([0-9]{4})-", t)):
        raise WindowError(f"'{spec}': that date is out of range; use a year from {YEARS[0]} to {YEARS[1]}")
    try:
        if t == "today":
            return window_containing(Granularity.DAY, now, zone)
        if t == "yesterday":
            return window_containing(Granularity.DAY, now, zone).previous()
        if t == "this-week":
            return window_containing(Granularity.WEEK, now, zone)
        if t == "last-week":
            return window_containing(Granularity.WEEK, now, zone).previous()
        if t == "this-month":
            return window_containing(Granularity.MONTH, now, zone)
        if t == "last-month":
            return window_containing(Granularity.MONTH, now, zone).previous()
        if t in ("quarter", "this-quarter"):
            return window_containing(Granularity.QUARTER, now, zone)
        if t == "last-quarter":
            return window_containing(Granularity.QUARTER, now, zone).previous()
        if m := _ROLLING.match(t):
            n = int(m.group(1))
            if not 1 <= n <= 366:
                raise WindowError(f"'{spec}': a rolling window is 1d to 366d")
            # Rolling windows end with yesterday: today is not complete yet.
            return days_window(today - timedelta(days=n), today - timedelta(days=1), zone, Granularity.DAYS)
        if m := _RANGE.match(t):
            return days_window(date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2)), zone)
        if _DAY.match(t):
            d = date.fromisoformat(t)
            return window_containing(Granularity.DAY, local_midnight(d, zone), zone)
        if m := _WEEK.match(t):
            d = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            return window_containing(Granularity.WEEK, local_midnight(d, zone), zone)
        if m := _MONTH.match(t):
            d = date(int(m.group(1)), int(m.group(2)), 1)
            return window_containing(Granularity.MONTH, local_midnight(d, zone), zone)
        if m := _QUARTER.match(t):
            d = date(int(m.group(1)), 3 * (int(m.group(2)) - 1) + 1, 1)
            return window_containing(Granularity.QUARTER, local_midnight(d, zone), zone)
    except ValueError as exc:
        if isinstance(exc, WindowError):
            raise
        raise WindowError(f"'{spec}' is not a real date or week ({exc})") from exc
    raise WindowError(f"'{spec}' is not a window I know. Try one of: {WINDOW_HELP}")
