"""Erlang C queueing: probability of waiting, service level, ASA and required agents.

Traffic intensity ``A`` (Erlangs) = calls * AHT / interval length. With ``N`` agents and
N > A, Erlang C gives the chance a contact waits; service level is the share answered
within the threshold ``T``: SL = 1 - C * exp(-(N - A) * T / AHT); ASA = C * AHT / (N - A).
"""

from __future__ import annotations

import math


def traffic_intensity(*, calls: float, aht_seconds: float, interval_seconds: float) -> float:
    """Return the offered load in Erlangs."""
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    return max(calls, 0.0) * max(aht_seconds, 0.0) / interval_seconds


def erlang_b(traffic: float, agents: int) -> float:
    """Return the Erlang B blocking probability (stable recursion, no factorials)."""
    if agents < 0 or traffic < 0:
        raise ValueError("traffic and agents must be non-negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def probability_of_wait(traffic: float, agents: int) -> float:
    """Return Erlang C: the chance a contact has to wait (1.0 when agents <= traffic)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(*, traffic: float, agents: int, aht_seconds: float, threshold_seconds: float) -> float:
    """Return the share of contacts answered within ``threshold_seconds`` (0..1)."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    c = probability_of_wait(traffic, agents)
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic) * threshold_seconds / aht_seconds))


def average_speed_of_answer(*, traffic: float, agents: int, aht_seconds: float) -> float:
    """Return the mean wait in seconds (infinite when agents <= traffic)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return probability_of_wait(traffic, agents) * aht_seconds / (agents - traffic)


def required_agents(
    *, traffic: float, aht_seconds: float, threshold_seconds: float, target: float,
    max_agents: int = 100_000,
) -> int:
    """Return the fewest agents whose service level reaches ``target`` (0..1)."""
    if traffic <= 0:
        return 0
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1 (exclusive)")
    n = max(1, math.floor(traffic) + 1)
    while n <= max_agents:
        if service_level(traffic=traffic, agents=n, aht_seconds=aht_seconds,
                         threshold_seconds=threshold_seconds) >= target:
            return n
        n += 1
    raise ValueError("target not reachable within max_agents")
