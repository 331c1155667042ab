"""QBR timing, pure: next meetings from the plan in the partner's timezone, reminder moments, checklist.

A reminder "T-7" falls at the same local wall-clock time seven days before the meeting, so a
DST change in between does not shift it by an hour. Reminders are due once their moment has
passed and the meeting has not started; a reminder more than a day late is not sent (the next
one is closer to the truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.schema import QbrPlan

DEFAULT_REMINDERS = (14, 7, 1)
PACK_DAYS = 7  # the QBR pack is posted with the T-7 reminder
LATE_LIMIT = timedelta(days=1)

CHECKLIST = (
    "Review the QBR pack: KPI trends vs targets, SLA compliance, breaches",
    "Check escalations by category and severity, with time to acknowledge and resolve",
    "Read the feedback pulse results and reverse-report summary",
    "Update the open action items from the last QBR",
    "Agree the agenda and attendees on both sides",
)


@dataclass(frozen=True, slots=True)
class Reminder:
    days_before: int
    at: datetime  # aware UTC


def upcoming(plan: QbrPlan, *, now: datetime, tz: str, count: int = 2) -> list[datetime]:
    """Return the next ``count`` QBR moments (aware UTC) from ``plan`` at or after ``now``."""
    zone = ZoneInfo(tz)
    local_year = now.astimezone(zone).year
    found: list[datetime] = []
    for year in (local_year, local_year + 1, local_year + 2):
        for naive in plan.occurrences(year):
            moment = naive.replace(tzinfo=zone).astimezone(UTC)
            if moment >= now:
                found.append(moment)
    return sorted(found)[:count]


def reminders(meeting: datetime, *, tz: str, days: Sequence[int] = DEFAULT_REMINDERS) -> list[Reminder]:
    """Return the reminder moments before ``meeting``, earliest first, at the same local time."""
    local = meeting.astimezone(ZoneInfo(tz))
    out = []
    for d in sorted(set(days), reverse=True):
        naive = local.replace(tzinfo=None) - timedelta(days=d)
        out.append(Reminder(d, naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)))
    return out


def due_reminders(meeting: datetime, *, now: datetime, tz: str, sent: Sequence[int],
                  days: Sequence[int] = DEFAULT_REMINDERS) -> list[Reminder]:
    """Return reminders whose moment has passed (by at most a day), not yet sent, before the meeting."""
    if now >= meeting:
        return []
    return [r for r in reminders(meeting, tz=tz, days=days)
            if r.days_before not in sent and r.at <= now < r.at + LATE_LIMIT]


def quarter_of(moment: datetime, tz: str) -> str:
    """Name the quarter a QBR at ``moment`` reviews (local calendar), e.g. 2026-Q4.

    A meeting in a quarter's first or second month reviews the last complete quarter (the
    usual QBR, held after the quarter closes). A meeting in a quarter's last month reviews its
    own quarter to date: two months and more have passed, and the previous quarter would be a
    quarter old by then. The pack only ever counts time up to when it is built.
    """
    local = moment.astimezone(ZoneInfo(tz))
    q = (local.month - 1) // 3 + 1
    if local.month % 3 == 0:
        return f"{local.year}-Q{q}"
    return f"{local.year - 1}-Q4" if q == 1 else f"{local.year}-Q{q - 1}"
