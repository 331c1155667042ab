"""The metric catalogue: what each KPI means, which way is better, and how it aggregates.

Every measurement stores the *parts* a metric is built from (``num``, ``den`` and, for
net scores, ``aux``) so any window aggregates from sums, never from a mean of percentages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"


class Aggregation(StrEnum):
    """How a window's value is computed from the parts of its measurements."""

    RATIO = "ratio"  # scale * sum(num) / sum(den)
    NET = "net"  # scale * (sum(num) - sum(aux)) / sum(den)   (NPS: promoters - detractors)
    LAST = "last"  # the newest period's num (stocks such as backlog)


class Unit(StrEnum):
    PERCENT = "%"
    SECONDS = "s"
    SCORE = "score"  # NPS-like, -100..100
    POINTS = "pts"  # CES-like, 1..7
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: Unit
    direction: Direction
    aggregation: Aggregation
    scale: float
    num_label: str
    den_label: str
    aux_label: str | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""

    def value(self, num: float, den: float, aux: float | None = None) -> float | None:
        """Compute the metric from summed parts; None when there is nothing to divide by."""
        if self.aggregation is Aggregation.LAST:
            return num
        if not den:
            return None
        if self.aggregation is Aggregation.NET:
            return self.scale * (num - (aux or 0.0)) / den
        return self.scale * num / den

    @property
    def higher_is_better(self) -> bool:
        return self.direction is Direction.HIGHER_IS_BETTER


_H, _L = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
_R, _N, _LAST = Aggregation.RATIO, Aggregation.NET, Aggregation.LAST

CATALOGUE: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("service_level", "Service level", Unit.PERCENT, _H, _R, 100.0,
               "answered within threshold", "offered", aliases=("sl", "servicelevel"),
               description="Share of offered contacts answered within the threshold"),
        Metric("asa", "Average speed of answer", Unit.SECONDS, _L, _R, 1.0,
               "seconds waited by answered contacts", "answered", aliases=("speed",),
               description="Mean wait of answered contacts"),
        Metric("abandon_rate", "Abandonment rate", Unit.PERCENT, _L, _R, 100.0,
               "abandoned", "offered", aliases=("abandon", "abandonment", "ar"),
               description="Share of offered contacts abandoned before answer"),
        Metric("aht", "Average handle time", Unit.SECONDS, _L, _R, 1.0,
               "handle seconds", "handled", aliases=("handle_time", "handletime"),
               description="Talk + hold + wrap-up per handled contact"),
        Metric("fcr", "First contact resolution", Unit.PERCENT, _H, _R, 100.0,
               "resolved on first contact", "handled", aliases=("first_contact_resolution",),
               description="Share of contacts resolved without a repeat contact"),
        Metric("csat", "CSAT", Unit.PERCENT, _H, _R, 100.0,
               "positive responses", "responses", aliases=("satisfaction",),
               description="Share of survey responses that are positive (4-5 of 5)"),
        Metric("nps", "NPS", Unit.SCORE, _H, _N, 100.0,
               "promoters", "responses", aux_label="detractors", aliases=("net_promoter",),
               description="% promoters minus % detractors"),
        Metric("ces", "Customer effort score", Unit.POINTS, _L, _R, 1.0,
               "effort points", "responses", aliases=("effort",),
               description="Mean effort rating (1 = effortless, 7 = very hard)"),
        Metric("qa_score", "QA score", Unit.PERCENT, _H, _R, 100.0,
               "QA points", "QA max points", aliases=("qa", "quality"),
               description="Audit points scored against the QA scorecard"),
        Metric("backlog", "Backlog", Unit.COUNT, _L, _LAST, 1.0,
               "open tickets", "snapshots", aliases=("queue",),
               description="Open email/ticket backlog at the end of the window"),
        Metric("first_response_time", "First response time", Unit.SECONDS, _L, _R, 1.0,
               "first response seconds", "tickets", aliases=("frt",),
               description="Mean time to first reply on email/tickets"),
        Metric("resolution_time", "Resolution time", Unit.SECONDS, _L, _R, 1.0,
               "resolution seconds", "resolved tickets", aliases=("ttr", "time_to_resolution"),
               description="Mean time from ticket creation to solved"),
        Metric("attrition", "Attrition", Unit.PERCENT, _L, _R, 100.0,
               "leavers", "headcount", aliases=("turnover",),
               description="Agents who left as a share of headcount"),
        Metric("training_completion", "Training completion", Unit.PERCENT, _H, _R, 100.0,
               "trainings completed", "trainings assigned", aliases=("training",),
               description="Assigned trainings completed"),
        Metric("schedule_adherence", "Schedule adherence", Unit.PERCENT, _H, _R, 100.0,
               "adherent seconds", "scheduled seconds", aliases=("adherence",),
               description="Time agents were where the schedule said"),
    )
}

_BY_NAME: dict[str, str] = {}
for _m in CATALOGUE.values():
    _BY_NAME[_m.key] = _m.key
    _BY_NAME[_m.key.replace("_", "-")] = _m.key
    for _a in _m.aliases:
        _BY_NAME[_a] = _m.key


def lookup(name: str) -> Metric | None:
    """Return the metric for a key or alias (case-insensitive), or None."""
    key = _BY_NAME.get(name.strip().lower())
    return CATALOGUE.get(key) if key else None


def names() -> list[str]:
    """Return every accepted metric name (keys and aliases), for suggestions."""
    return sorted(_BY_NAME)


def _duration(total: int) -> str:
    """Render whole seconds as 12s, 4m 05s, 2h 23m 53s (the same way for values and changes)."""
    if total >= 3600:
        return f"{total // 3600}h {total % 3600 // 60:02d}m {total % 60:02d}s"
    if total >= 60:
        return f"{total // 60}m {total % 60:02d}s"
    return f"{total}s"


def format_value(metric: Metric, value: float | None) -> str:
    """Render a metric value for people: 81.2%, 4m 05s, +34, 2.1."""
    if value is None:
        return "n/a"
    if metric.unit is Unit.PERCENT:
        return f"{value:.1f}%"
    if metric.unit is Unit.SECONDS:
        return _duration(round(value))
    if metric.unit is Unit.SCORE:
        return f"{value:+.0f}"
    if metric.unit is Unit.POINTS:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def format_delta(metric: Metric, delta: float | None) -> str:
    """Render a change between windows in the metric's unit: +1.2 pp, -14s, +7m 53s; ±0s when nothing moved."""
    if delta is None:
        return "n/a"
    if metric.unit is Unit.PERCENT:
        text = f"{abs(delta):.1f} pp"
    elif metric.unit is Unit.SECONDS:
        text = _duration(round(abs(delta)))
    elif metric.unit is Unit.POINTS:
        text = f"{abs(delta):.2f}"
    else:
        text = f"{abs(delta):,.0f}"
    if not any(ch in "123456789" for ch in text):  # rounds to nothing: no sign, never "-0s"
        return f"±{text}"
    return ("+" if delta > 0 else "-") + text
