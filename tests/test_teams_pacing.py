"""The per-conversation pacer under Teams' limits, with an injected clock and sleep (no real waiting)."""

from __future__ import annotations

from adapters.teams.pacing import LIMITS, Pacer
from tests.fakes.clock import FrozenClock


def paced() -> tuple[Pacer, FrozenClock, list[float]]:
    clock = FrozenClock.at("2026-11-16T10:00:00+00:00")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    return Pacer(now=clock.now, sleep=sleep), clock, slept


async def test_pacer_hour_limit_holds_the_1801st_send_until_the_first_is_an_hour_old():
    pacer, clock, _ = paced()
    start = clock.now().timestamp()
    for _ in range(1800):
        await pacer.wait("c1")
    # 60 per 30 s would allow 7200 an hour; the 1800-per-hour limit is what binds here
    assert clock.now().timestamp() - start < 3600
    await pacer.wait("c1")
    assert clock.now().timestamp() - start >= 3600
    sends = list(pacer._sent["c1"])
    for count, window in LIMITS:
        assert all(sends[i + count] - sends[i] >= window - 1e-9 for i in range(len(sends) - count))


async def test_pacer_quiet_conversation_sends_without_waiting_and_old_sends_expire():
    pacer, clock, slept = paced()
    for _ in range(5):
        await pacer.wait("c1")
        clock.advance(seconds=10)
    assert slept == []
    clock.advance(hours=2)
    assert len(pacer._sent["c1"]) == 5
    assert pacer.delay("c1") == 0.0
    assert len(pacer._sent["c1"]) == 0  # sends older than the longest window are forgotten


async def test_pacer_burst_of_nine_waits_for_the_two_second_window():
    pacer, clock, slept = paced()
    for _ in range(9):
        await pacer.wait("c1")
    # 7 at once, the 8th after 1 s (7 per second), the 9th after 2 s (8 per 2 s)
    assert slept == [1.0, 1.0]
