"""Pace proactive sends per conversation under Teams' limits (7/1 s, 8/2 s, 60/30 s, 1800/h)."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime

LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))


class Pacer:
    """A sliding-window limiter per conversation; clock and sleep are injected for tests."""

    def __init__(self, *, now: Callable[[], datetime], sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 limits: tuple[tuple[int, float], ...] = LIMITS) -> None:
        self._now, self._sleep, self.limits = now, sleep, limits
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    def delay(self, conversation: str) -> float:
        """Return how long to wait before the next send to ``conversation`` stays within every limit."""
        sent = self._sent[conversation]
        now = self._now().timestamp()
        horizon = max(window for _, window in self.limits)
        while sent and now - sent[0] >= horizon:
            sent.popleft()
        wait = 0.0
        for count, window in self.limits:
            if len(sent) >= count:
                wait = max(wait, sent[-count] + window - now)
        return max(wait, 0.0)

    async def wait(self, conversation: str) -> float:
        """Sleep as long as needed, then record the send; return the time slept."""
        start = self._now().timestamp()
        delay = self.delay(conversation)
        if delay > 0:
            await self._sleep(delay)
        # A frozen test clock does not move during the sleep; the send still happens after it.
        self._sent[conversation].append(max(self._now().timestamp(), start + delay))
        return delay
