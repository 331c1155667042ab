"""Balanced scorecard: five KPIs, each normalised against its target, weighted into 0-100.

Normalisation (per KPI, values in display units as the metric catalogue computes them):

- higher is better (CSAT %, FCR %): attainment = value / target;
- lower is better (AHT seconds, CES points): attainment = target / value;
- NPS runs -100..100, so value and target are first shifted to 0..200 (x + 100) and then
  treated as higher-is-better: attainment = (value + 100) / (target + 100);
- attainment is capped to 0..1.2 (beating a target by more than 20% earns nothing more)
  and scaled to 0..100 points: points = 100 * attainment / 1.2, so meeting the target
  exactly scores 83.3 and only a 20% overshoot scores 100.

Score = sum(weight * points) / sum(weights of the KPIs that have a value and a target); a KPI
with no data or no target drops out and the remaining weights are rescaled, so a partner is
not punished for a survey it does not run. A partner with no scorable KPI has no score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_WEIGHTS: dict[str, float] = {"csat": 20.0, "nps": 20.0, "ces": 20.0, "fcr": 20.0, "aht": 20.0}
LOWER_IS_BETTER = frozenset({"aht", "ces"})
SHIFTED = {"nps": 100.0}  # metrics on a signed scale, shifted to start at zero
CAP = 1.2


@dataclass(frozen=True, slots=True)
class KpiScore:
    metric: str
    weight: float
    value: float | None
    target: float | None
    attainment: float | None  # 0..1.2
    points: float | None  # 0..100


@dataclass(frozen=True, slots=True)
class Scorecard:
    partner: str
    score: float | None
    kpis: tuple[KpiScore, ...]
    rank: int | None = None
    previous_score: float | None = None

    @property
    def movement(self) -> float | None:
        """Return the change in score since last week."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


def attainment(metric: str, value: float | None, target: float | None) -> float | None:
    """Return value vs target as a 0..1.2 attainment; None when it cannot be judged."""
    if value is None or target is None:
        return None
    shift = SHIFTED.get(metric, 0.0)
    value, target = value + shift, target + shift
    if metric in LOWER_IS_BETTER:
        if value <= 0:
            return CAP
        ratio = target / value
    else:
        if target <= 0:
            return None
        ratio = value / target
    return max(0.0, min(CAP, ratio))


def score_partner(
    partner: str,
    *,
    values: Mapping[str, float | None],
    targets: Mapping[str, float | None],
    weights: Mapping[str, float] | None = None,
) -> Scorecard:
    """Score one partner's KPIs against their targets with ``weights`` (default 20% each)."""
    weights = dict(weights or DEFAULT_WEIGHTS)
    kpis: list[KpiScore] = []
    total = weighted = 0.0
    for metric, weight in weights.items():
        att = attainment(metric, values.get(metric), targets.get(metric))
        points = None if att is None else 100.0 * att / CAP
        kpis.append(KpiScore(metric, weight, values.get(metric), targets.get(metric), att, points))
        if points is not None:
            total += weight
            weighted += weight * points
    score = round(weighted / total, 1) if total else None
    return Scorecard(partner, score, tuple(kpis))


def rank(cards: Sequence[Scorecard], *, previous: Mapping[str, float | None] | None = None) -> list[Scorecard]:
    """Rank scorecards best first (ties share a rank, unscored last) and attach last week's score."""
    previous = previous or {}
    ordered = sorted(cards, key=lambda c: (c.score is None, -(c.score or 0.0), c.partner))
    out: list[Scorecard] = []
    last_score: float | None = None
    last_rank = 0
    for position, card in enumerate(ordered, start=1):
        if card.score is None:
            place = None
        elif card.score == last_score:
            place = last_rank
        else:
            place, last_score, last_rank = position, card.score, position
        out.append(Scorecard(card.partner, card.score, card.kpis, place, previous.get(card.partner)))
    return out
