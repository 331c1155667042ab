"""Feedback pulse rules: the questions, periods and their opening moments, and the averages.

Pure: no database, no clock. Averages are shown only for groups of at least ``MIN_GROUP``
answers so nobody's ratings can be read off a mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

MIN_GROUP = 3
HIDDEN = f"hidden until {MIN_GROUP} answers"
HIDDEN_RATINGS = f"hidden until {MIN_GROUP} ratings"  # one question rated by fewer people
# one question rated anonymously by one or two people beside named ratings (which the export lists):
# an average over all of them would give the anonymous ones away
HIDDEN_ANONYMOUS = f"hidden until {MIN_GROUP} anonymous ratings"

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("communication", "Communication"),
    ("clarity", "Clarity of goals"),
    ("support", "Support from the client"),
    ("tooling", "Tooling and knowledge base"),
)
KEYS = tuple(key for key, _ in QUESTIONS)
LABELS = dict(QUESTIONS)
SCALE = {5: "very good", 4: "good", 3: "okay", 2: "poor", 1: "very poor"}

_MONTHLY = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTERLY = re.compile(r"^(\d{4})-[qQ]([1-4])$")


def period_of(moment: datetime, cadence: str, tz: str) -> str:
    """Return the period holding ``moment`` in the partner's timezone: 2026-11 or 2026-Q4."""
    local = moment.astimezone(ZoneInfo(tz))
    if cadence == "quarterly":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def parse_period(text: str) -> str | None:
    """Return the normalised period (2026-11, 2026-Q4) or None when ``text`` is not one."""
    text = text.strip()
    if m := _MONTHLY.match(text):
        return text if 1 <= int(m.group(2)) <= 12 else None
    if m := _QUARTERLY.match(text):
        return f"{m.group(1)}-Q{m.group(2)}"
    return None


def first_month(period: str) -> tuple[int, int]:
    """Return (year, month) a period starts in."""
    if m := _QUARTERLY.match(period):
        return int(m.group(1)), (int(m.group(2)) - 1) * 3 + 1
    if m := _MONTHLY.match(period):
        return int(m.group(1)), int(m.group(2))
    raise ValueError(f"not a period: {period!r}")


def opens_at(period: str, *, day: int, at: time, tz: str) -> datetime:
    """Return (in UTC) when a period's pulse opens: ``day`` of its first month at ``at`` local time."""
    year, month = first_month(period)
    local = datetime(year, month, day, at.hour, at.minute, tzinfo=ZoneInfo(tz))
    # a wall time skipped by a DST change is taken forward (zoneinfo's fold=0 reading of the gap)
    return local.astimezone(UTC)


def previous_period(period: str) -> str:
    """Return the period before ``period`` (same cadence)."""
    if m := _QUARTERLY.match(period):
        year, q = int(m.group(1)), int(m.group(2))
        return f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}"
    year, month = first_month(period)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def scale_label(score: int) -> str:
    return f"{score} — {SCALE[score]}"


@dataclass(frozen=True, slots=True)
class Summary:
    """Averages of a group of answers; ``averages[key]`` is None when fewer than MIN_GROUP rated it."""

    answers: int
    averages: dict[str, float | None]
    rated: dict[str, int]
    comments: int
    protected: frozenset[str] = frozenset()  # questions hidden to keep one or two anonymous ratings anonymous

    @property
    def hidden(self) -> bool:
        return self.answers < MIN_GROUP

    @property
    def overall(self) -> float | None:
        shown = [v for v in self.averages.values() if v is not None]
        return sum(shown) / len(shown) if shown else None


def summarize(rows: Sequence[object]) -> Summary:
    """Average each question over the rows that rated it; hide any question rated by fewer than MIN_GROUP.

    ``rows`` have attributes named like KEYS (1-5 or None), ``comment`` and ``anonymous``.
    A question that one or two people rated anonymously beside named ratings is hidden too: the named
    ratings are known (the export lists them), so the average would give the anonymous ones away.
    """
    averages: dict[str, float | None] = {}
    rated: dict[str, int] = {}
    protected: set[str] = set()
    for key in KEYS:
        scores = [getattr(r, key) for r in rows if getattr(r, key) is not None]
        anonymous = sum(1 for r in rows if getattr(r, key) is not None and getattr(r, "anonymous", False))
        rated[key] = len(scores)
        averages[key] = sum(scores) / len(scores) if len(rows) >= MIN_GROUP and len(scores) >= MIN_GROUP else None
        if averages[key] is not None and 0 < anonymous < MIN_GROUP and anonymous < len(scores):
            averages[key] = None
            protected.add(key)
    comments = sum(1 for r in rows if (getattr(r, "comment", "") or "").strip())
    return Summary(answers=len(rows), averages=averages, rated=rated, comments=comments, protected=frozenset(protected))


def averages_text(summary: Summary) -> str:
    """Return "communication 4.2/5, clarity of goals 3.7/5, ..." or the hidden wording."""
    if summary.hidden:
        return HIDDEN
    parts = [f"{LABELS[k].lower()} {v:.1f}/5" if v is not None
             else f"{LABELS[k].lower()} {HIDDEN_ANONYMOUS if k in summary.protected else HIDDEN_RATINGS}"
             for k, v in summary.averages.items()]
    return ", ".join(parts)


def rate_text(answered: int, asked: int) -> str:
    pct = f" ({answered * 100 // asked}%)" if asked else ""
    return f"{answered} of {asked} answered{pct}"
