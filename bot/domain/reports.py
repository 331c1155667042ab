"""Reverse report rules: the kinds, the partner's two-business-day reminder moment, the nudge gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

KINDS: dict[str, str] = {
    "lead_quality": "Lead or meeting quality",
    "customer_signal": "Customer signal",
    "qa_calibration": "QA calibration",
    "process_issue": "Process issue",
    "praise": "Praise",
}
REMINDER_BUSINESS_DAYS = 2
NUDGE_AFTER = timedelta(days=14)
WORKDAYS = frozenset(range(5))  # Monday..Friday
NUDGE_HOURS = (9, 17)  # a nudge goes out between 09:00 and 17:00 on a workday, the client's time


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind.replace("_", " ").capitalize())


def add_business_days(moment: datetime, days: int, tz: str | ZoneInfo, *,
                      workdays: frozenset[int] = WORKDAYS) -> datetime:
    """Return ``moment`` moved ``days`` workdays on, at the same local wall time in ``tz`` (UTC out).

    A moment on a weekend counts from the next workday's start, so Saturday + 2 = Tuesday 00:00.
    The wall time is kept across DST changes (zoneinfo resolves the new offset).
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = moment.astimezone(zone)
    day, wall = local.date(), local.time().replace(tzinfo=None)
    if day.weekday() not in workdays:
        while day.weekday() not in workdays:
            day += timedelta(days=1)
        wall = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() in workdays:
            left -= 1
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def in_nudge_hours(moment: datetime, tz: str | ZoneInfo) -> bool:
    """Say whether ``moment`` is a workday between 09:00 and 17:00 in ``tz``."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = moment.astimezone(zone)
    return local.weekday() in WORKDAYS and NUDGE_HOURS[0] <= local.hour < NUDGE_HOURS[1]


def stars(rating: int | None) -> str:
    """Return "★★★★☆ 4/5" (stars and the number, so it reads without the glyphs too)."""
    if rating is None:
        return "not rated"
    return f"{'★' * rating}{'☆' * (5 - rating)} {rating}/5"


def duration_text(delta: timedelta) -> str:
    """Return "3h", "5h 10m", "2d 4h", "12m"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def parse_ref(text: str) -> int | None:
    raw = text.strip().upper()
    if raw.startswith("RR-"):
        raw = raw[3:]
    return int(raw) if raw.isdigit() else None
