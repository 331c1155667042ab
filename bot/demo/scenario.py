"""The example scenario: BRIEF's three partners over four sites, eight weeks, one breach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from bot.demo.generator import ChannelSpec, Incident, PartnerSpec, Row, SiteSpec, generate

DEFAULT_SEED = 7


def _voice(volume: float) -> ChannelSpec:
    return ChannelSpec("voice", volume, 320.0, threshold_seconds=20, target=0.80)


def _chat(volume: float) -> ChannelSpec:
    # aht is agent time per chat after concurrency (agents run about two chats at once)
    return ChannelSpec("chat", volume, 240.0, threshold_seconds=30, target=0.85)


def _email(volume: float) -> ChannelSpec:
    return ChannelSpec("email", volume, 420.0)


def _social(volume: float) -> ChannelSpec:
    return ChannelSpec("social", volume, 300.0, threshold_seconds=900, target=0.80)


def example_partners() -> list[PartnerSpec]:
    """Return the partners of liaison.example.yaml with mid-size weekday volumes."""
    return [
        PartnerSpec("acme", "Europe/Warsaw", (
            SiteSpec("krakow", (_voice(2400), _chat(1200), _email(500))),
            SiteSpec("lisbon", (_voice(1600), _chat(900), _email(400))),
        ), name="Acme Contact Solutions"),
        PartnerSpec("northwind", "Asia/Manila", (
            SiteSpec("manila", (_voice(3000), _chat(1800))),
        ), quality=-0.02, name="Northwind BPO"),
        PartnerSpec("globex", "America/Sao_Paulo", (
            SiteSpec("saopaulo", (_voice(2000), _email(700), _social(600))),
        ), quality=0.01, name="Globex CX"),
    ]


def example_incidents(end: date) -> list[Incident]:
    """Return the scenario's staffing incidents relative to the last day ``end``."""
    return [
        # A breach: Kraków voice runs on 60 % of its agents for three days, then recovers.
        Incident("acme", "krakow", "voice", end - timedelta(days=9), 3, 0.60),
        # A warning-level dip: Manila chat a little short for two days.
        Incident("northwind", "manila", "chat", end - timedelta(days=20), 2, 0.93),
    ]


def scenario_start(end: date, weeks: int) -> date:
    return end - timedelta(days=7 * weeks - 1)


def example_rows(*, end: date, weeks: int = 8, seed: int = DEFAULT_SEED) -> Iterator[Row]:
    """Yield the example scenario's rows for ``weeks`` weeks ending with day ``end``."""
    yield from generate(partners=example_partners(), start=scenario_start(end, weeks),
                        days=7 * weeks, seed=seed, incidents=example_incidents(end))
