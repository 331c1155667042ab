"""Protocols the core needs from the outside world: a clock and chat gateways."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.messages import Message


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The wall clock; everything else takes a Clock so tests can drive time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The wall clock moved by a fixed offset: a rehearsal of a schedule as if it were another moment.

    Every replica given the same offset agrees on the time (leases, due moments), unlike a clock
    started at a fixed moment in each process.
    """

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock someone else moves: the demo replays days with it, tests drive schedules."""

    def __init__(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PostResult:
    """Where a message landed, so it can be edited or threaded later."""

    ref: str  # platform message reference, e.g. "C123:1700000000.000100" or an activity id
    thread_ref: str | None = None


class DeliveryError(Exception):
    """A gateway failed to deliver; ``retry_after`` set when the platform asked us to wait."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 gone: bool = False, in_doubt: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.gone = gone  # the destination no longer exists or the bot was removed
        # no answer came (timeout, dropped connection): the platform may have taken the message
        self.in_doubt = in_doubt


class ChatGateway(Protocol):
    """Send neutral messages to one platform; adapters implement it."""

    platform: str

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        """Post ``message`` to a channel/conversation (in a thread when ``thread_ref``)."""
        ...

    async def update(self, ref: str, message: Message) -> None:
        """Replace a posted message in place."""
        ...

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        """Send ``message`` to one user privately (DM / personal chat)."""
        ...


@runtime_checkable
class KeyedGateway(Protocol):
    """A gateway whose messages carry their outbox key, so a send in doubt can be looked up first.

    Slack implements it (the key rides in message metadata); the delivery worker then posts the
    message and its files as separate recorded steps, and never repeats a message it finds.
    Destinations are the outbox's own ("C0ALERTS", "T0ACME/C0ALERTS", "user:U0MARIA").
    """

    async def post_keyed(self, destination: str, message: Message, *, key: str,
                         thread_ref: str | None = None) -> PostResult:
        """Post the message alone (no files), tagged with ``key``."""
        ...

    async def find_posted(self, destination: str, key: str, *, thread_ref: str | None = None,
                          since: datetime | None = None) -> str | None:
        """Return the ref of the message tagged ``key`` if the platform has it, else None."""
        ...

    async def attach(self, ref: str, message: Message) -> None:
        """Upload the message's chart and attachments under the posted message ``ref``."""
        ...
