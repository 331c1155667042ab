"""Staffing math: agents an interval needs (Erlang C plus shrinkage) and the service level a schedule gives.

Per interval: traffic A = contacts * AHT / interval seconds (Erlangs). The fewest agents on the
phones whose Erlang C service level reaches the target is ``productive``; scheduled agents are
not all productive (breaks, meetings, training, absence: shrinkage), so the schedule needs
``ceil(productive / (1 - shrinkage))``. The other way round, ``scheduled`` agents give
``floor(scheduled * (1 - shrinkage))`` productive ones and that Erlang C service level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.domain import erlang

# A rounding hair: 20 scheduled * 0.7 is 13.999999999999998 in floating point, not 14.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Goal:
    """The service-level target staffing aims at: ``target`` (0..1) answered within ``threshold_seconds``."""

    target: float
    threshold_seconds: float
    shrinkage: float = 0.30  # 0..1


@dataclass(frozen=True, slots=True)
class IntervalNeed:
    """One interval's forecast against its schedule."""

    contacts: float
    aht_seconds: float
    traffic: float  # Erlangs
    productive_needed: int  # agents on the phones for the target
    required: int  # agents to schedule (shrinkage added)
    scheduled: float | None  # None: no schedule row for the interval
    expected_sl: float | None  # with the scheduled agents; None without a schedule or contacts

    @property
    def gap(self) -> float | None:
        """Scheduled minus required agents (negative: short)."""
        return None if self.scheduled is None else self.scheduled - self.required


def productive_agents(scheduled: float, shrinkage: float) -> int:
    """Return the whole agents on the phones out of ``scheduled`` after shrinkage."""
    return max(0, math.floor(scheduled * (1.0 - shrinkage) + _EPS))


def agents_for_target(*, traffic: float, aht_seconds: float, threshold_seconds: float, target: float,
                      max_agents: int = 100_000) -> int:
    """Return the fewest agents reaching ``target``, in one pass of the Erlang B recursion.

    Same answer as ``erlang.required_agents`` (a test holds them together), but O(N) instead of
    O(N^2): B(n) is carried from n-1 rather than recomputed for each candidate.
    """
    if traffic <= 0:
        return 0
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1 (exclusive)")
    b = 1.0
    for n in range(1, max_agents + 1):
        b = traffic * b / (n + traffic * b)
        if n <= traffic:
            continue
        c = n * b / (n - traffic * (1.0 - b))
        if 1.0 - c * math.exp(-(n - traffic) * threshold_seconds / aht_seconds) >= target:
            return n
    raise ValueError("target not reachable within max_agents")


def interval_need(*, contacts: float, aht_seconds: float, interval_seconds: float, goal: Goal,
                  scheduled: float | None) -> IntervalNeed:
    """Compute what one interval needs and what its schedule gives."""
    if not 0 <= goal.shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    traffic = erlang.traffic_intensity(calls=contacts, aht_seconds=aht_seconds, interval_seconds=interval_seconds)
    if traffic <= 0:
        return IntervalNeed(contacts, aht_seconds, 0.0, 0, 0, scheduled, None)
    productive = agents_for_target(traffic=traffic, aht_seconds=aht_seconds,
                                   threshold_seconds=goal.threshold_seconds, target=goal.target)
    required = math.ceil(productive / (1.0 - goal.shrinkage) - _EPS)
    sl = None
    if scheduled is not None:
        sl = erlang.service_level(traffic=traffic, agents=productive_agents(scheduled, goal.shrinkage),
                                  aht_seconds=aht_seconds, threshold_seconds=goal.threshold_seconds)
    return IntervalNeed(contacts, aht_seconds, traffic, productive, required, scheduled, sl)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A hypothetical change to the forecast: volume by a share, AHT by seconds or a share."""

    volume_pct: float = 0.0
    aht_seconds: float = 0.0
    aht_pct: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.volume_pct or self.aht_seconds or self.aht_pct)

    def apply(self, contacts: float, aht: float) -> tuple[float, float]:
        """Return (contacts, aht) under the change; nothing below zero."""
        return (max(0.0, contacts * (1 + self.volume_pct / 100)),
                max(1.0, aht * (1 + self.aht_pct / 100) + self.aht_seconds) if aht > 0 else aht)

    def label(self) -> str:
        parts = []
        if self.volume_pct:
            parts.append(f"volume {self.volume_pct:+g}%")
        if self.aht_pct:
            parts.append(f"AHT {self.aht_pct:+g}%")
        if self.aht_seconds:
            parts.append(f"AHT {self.aht_seconds:+g}s")
        return ", ".join(parts)


def mape(pairs: list[tuple[float, float]]) -> float | None:
    """Return the mean absolute percentage error of (actual, forecast) pairs with actual > 0, in %."""
    terms = [abs(actual - forecast) / actual for actual, forecast in pairs if actual > 0]
    return 100 * sum(terms) / len(terms) if terms else None
