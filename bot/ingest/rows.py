"""The ingest row: one partner/site/channel/interval with the counts an ACD/WFM export carries.

Each metric is built from parts (``num``/``den``/``aux``) so any window aggregates by sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

IDENTITY_COLUMNS = ("partner", "site", "channel", "interval_start", "interval_minutes")
COUNT_COLUMNS = (
    "offered", "answered", "answered_within_sla", "sla_threshold_seconds", "abandoned", "wait_seconds",
    "handled", "handle_seconds", "fcr_resolved", "csat_positive", "csat_responses", "nps_promoters",
    "nps_passives", "nps_detractors", "ces_points", "ces_responses", "qa_points", "qa_max", "backlog",
    "first_response_seconds", "tickets", "leavers", "headcount", "trainings_completed",
    "trainings_assigned", "adherent_seconds", "scheduled_seconds", "resolution_seconds", "resolved",
)
COLUMNS = IDENTITY_COLUMNS + COUNT_COLUMNS
REQUIRED = ("partner", "channel", "interval_start", "interval_minutes")
INTERVALS = (15, 30, 60, 1440)

# metric -> (num column, den column or None for a stock, aux column or None)
PARTS: tuple[tuple[str, str, str | None], ...] = (
    ("service_level", "answered_within_sla", "offered"),
    ("asa", "wait_seconds", "answered"),
    ("abandon_rate", "abandoned", "offered"),
    ("aht", "handle_seconds", "handled"),
    ("fcr", "fcr_resolved", "handled"),
    ("csat", "csat_positive", "csat_responses"),
    ("ces", "ces_points", "ces_responses"),
    ("qa_score", "qa_points", "qa_max"),
    ("backlog", "backlog", None),
    ("first_response_time", "first_response_seconds", "tickets"),
    ("resolution_time", "resolution_seconds", "resolved"),
    ("attrition", "leavers", "headcount"),
    ("training_completion", "trainings_completed", "trainings_assigned"),
    ("schedule_adherence", "adherent_seconds", "scheduled_seconds"),
)
NPS_COLUMNS = ("nps_promoters", "nps_passives", "nps_detractors")
# part columns that may never exceed their whole (the error names both)
PART_OF: tuple[tuple[str, str], ...] = (
    ("answered", "offered"), ("answered_within_sla", "offered"), ("answered_within_sla", "answered"), ("abandoned", "offered"),
    ("fcr_resolved", "handled"), ("csat_positive", "csat_responses"), ("qa_points", "qa_max"),
    ("trainings_completed", "trainings_assigned"), ("adherent_seconds", "scheduled_seconds"),
    ("leavers", "headcount"),
)


def metric_parts(counts: Mapping[str, object]) -> Iterator[tuple[str, float, float, float | None]]:
    """Yield (metric, num, den, aux) for every metric whose parts the row carries."""
    for metric, num_col, den_col in PARTS:
        num = counts.get(num_col)
        den = 1 if den_col is None else counts.get(den_col)
        if num is None or den is None:
            continue
        yield metric, float(num), float(den), None  # type: ignore[arg-type]
    p, s, d = (counts.get(c) for c in NPS_COLUMNS)
    if p is not None and s is not None and d is not None:
        yield "nps", float(p), float(p) + float(s) + float(d), float(d)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class IngestRow:
    """One validated row, tied to the place it came from (CSV line or JSON item)."""

    where: str  # "line 14" or "item 3"
    partner: str
    site: str
    channel: str
    start: datetime  # aware
    minutes: int
    counts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowError:
    where: str
    field: str | None
    error: str

    @property
    def position(self) -> int:
        """Return the line or item number, so errors list in file order."""
        number = self.where.rpartition(" ")[2]
        return int(number) if number.isdigit() else -1

    def render(self) -> str:
        return f"{self.where}: {self.field + ' ' if self.field else ''}{self.error}"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One row as read, before validation: column -> cell, and where it came from."""

    where: str  # "line 14" or "item 3"
    values: dict[str, Any]


# A file with more problems than this lists the first ones and counts the rest: the list stays
# small in memory and on screen whatever the file holds.
MAX_ERRORS = 1000


class ErrorLog:
    """Collect row errors in bounded memory: keep the first ``cap`` by position, count them all."""

    def __init__(self, errors: Iterable[RowError] = (), *, cap: int = MAX_ERRORS) -> None:
        self.cap = cap
        self.total = 0
        self._kept: list[RowError] = []
        self.extend(errors)

    def add(self, error: RowError) -> None:
        self.total += 1
        self._kept.append(error)
        if len(self._kept) >= 2 * self.cap:
            self._trim()

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.add(error)

    def merge(self, errors: Iterable[RowError]) -> None:
        """Add another collection's errors, and its count of those it did not keep."""
        self.extend(errors)
        if isinstance(errors, ErrorLog):
            self.total += errors.total - min(errors.total, errors.cap)

    def _trim(self) -> None:
        # a stable sort: errors of one position keep the order they were found in
        self._kept.sort(key=lambda e: e.position)
        del self._kept[self.cap:]

    @property
    def errors(self) -> list[RowError]:
        """Return the kept errors in file order."""
        self._trim()
        return list(self._kept)

    @property
    def more(self) -> int:
        """Return how many errors were found beyond the kept ones."""
        return self.total - min(self.total, self.cap)

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[RowError]:
        return iter(self.errors)


class FormatError(ValueError):
    """The file as a whole can't be read (not a row problem)."""
