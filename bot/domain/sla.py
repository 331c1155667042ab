"""Judge a KPI value against an SLA target: ok, warning, breach or too little volume."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.metrics import CATALOGUE
from bot.messages import Status


@dataclass(frozen=True, slots=True)
class Threshold:
    """The comparable part of a target (table-free, so pure code can use it)."""

    metric: str
    comparator: str  # ">=" (value must be at least target) or "<=" (at most)
    target: float
    warning: float | None = None  # the line between ok and warning, on the good side of target
    min_volume: float = 0.0

    def __post_init__(self) -> None:
        if self.comparator not in (">=", "<="):
            raise ValueError(f"comparator must be '>=' or '<=', not {self.comparator!r}")

    def meets(self, value: float, bound: float) -> bool:
        """Tell whether ``value`` satisfies ``bound`` under this comparator (exactly at is OK)."""
        return value >= bound if self.comparator == ">=" else value <= bound

    def gap(self, value: float) -> float:
        """Return how far ``value`` is past the target on the bad side (positive = worse)."""
        return self.target - value if self.comparator == ">=" else value - self.target


def default_comparator(metric: str) -> str:
    return ">=" if CATALOGUE[metric].higher_is_better else "<="


def judge(value: float | None, volume: float, threshold: Threshold) -> Status:
    """Return the status of ``value`` (built on ``volume``) against ``threshold``."""
    if value is None:
        return Status.NO_DATA
    if volume < threshold.min_volume:
        return Status.INSUFFICIENT
    if not threshold.meets(value, threshold.target):
        return Status.BREACH
    if threshold.warning is not None and not threshold.meets(value, threshold.warning):
        return Status.WARNING
    return Status.OK
