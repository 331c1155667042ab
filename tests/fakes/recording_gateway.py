"""A ChatGateway that records what it was asked to send and fails on a script."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from bot.messages import Message
from bot.ports import Clock, DeliveryError, PostResult


@dataclass
class Sent:
    kind: str  # post | update | direct
    destination: str
    message: Message
    thread_ref: str | None
    ref: str
    at: datetime


@dataclass
class RecordingGateway:
    """Record posts/updates/DMs; ``fail_next`` queues DeliveryErrors to raise first."""

    clock: Clock
    platform: str = "slack"
    sent: list[Sent] = field(default_factory=list)
    failures: deque[DeliveryError] = field(default_factory=deque)
    attempts: list[datetime] = field(default_factory=list)

    def fail_next(self, *errors: DeliveryError) -> None:
        self.failures.extend(errors)

    def _maybe_fail(self) -> None:
        self.attempts.append(self.clock.now())
        if self.failures:
            raise self.failures.popleft()

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        self._maybe_fail()
        ref = f"{destination}:{len(self.sent) + 1}"
        self.sent.append(Sent("post", destination, message, thread_ref, ref, self.clock.now()))
        return PostResult(ref=ref, thread_ref=thread_ref)

    async def update(self, ref: str, message: Message) -> None:
        self._maybe_fail()
        self.sent.append(Sent("update", ref.split(":")[0], message, None, ref, self.clock.now()))

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        self._maybe_fail()
        ref = f"D-{user_id}:{len(self.sent) + 1}"
        self.sent.append(Sent("direct", user_id, message, None, ref, self.clock.now()))
        return PostResult(ref=ref)

    def posts_to(self, destination: str) -> list[Sent]:
        return [s for s in self.sent if s.destination == destination]
