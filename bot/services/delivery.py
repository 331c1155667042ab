"""Send due outbox rows through the chat gateways: claim, send, mark, retry or give up.

Safe with several replicas: a row is claimed by an atomic conditional UPDATE that sets a
lease (``claimed_until``); on PostgreSQL the candidates are also picked with
``FOR UPDATE SKIP LOCKED`` so replicas don't even contend. A row is marked sent in its own
short transaction right after the platform accepted it, so a crash can resend at most the
message in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.core import Core
from bot.messages_codec import message_from_dict
from bot.ports import ChatGateway, DeliveryError
from bot.services.outbox import DIRECT_PREFIX
from bot.store.outbox import DestinationHold, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0
# How long a reply/update waits for the message it belongs to before being looked at again.
PARENT_WAIT_SECONDS = 2.0
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0  # replies whose parent message has no ref yet
    errors: list[str] = field(default_factory=list)


class Pacer:
    """Keep at least ``interval`` seconds between messages to one destination."""

    def __init__(self, *, now: Callable[[], datetime], sleep: Sleep,
                 intervals: Mapping[str, float]) -> None:
        self._now = now
        self._sleep = sleep
        self._intervals = intervals
        self._last: dict[tuple[str, str], datetime] = {}

    async def wait(self, platform: str, destination: str) -> None:
        interval = self._intervals.get(platform, 0.0)
        last = self._last.get((platform, destination))
        if interval and last is not None:
            remaining = interval - (self._now() - last).total_seconds()
            if remaining > 0:
                await self._sleep(remaining)
        self._last[(platform, destination)] = self._now()


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Return the wait before attempt ``attempts + 1``: exponential with full jitter on top half."""
    ceiling = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


async def _claim(core: Core, *, now: datetime, limit: int) -> list[OutboxItem]:
    lease = now + timedelta(seconds=core.settings.delivery_lease_seconds)
    free = or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now)
    held = exists().where(DestinationHold.platform == OutboxItem.platform,
                          DestinationHold.destination == OutboxItem.destination, DestinationHold.until > now)
    due = (OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= now, free, ~held)
    claimed: list[OutboxItem] = []
    async with core.db.transaction() as session:
        stmt = select(OutboxItem.id).where(*due).order_by(OutboxItem.id).limit(limit)
        if not core.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list((await session.execute(stmt)).scalars().all())
        for item_id in ids:
            # The conditional UPDATE is the real claim: only one worker sees rowcount 1.
            result = await session.execute(
                update(OutboxItem).where(OutboxItem.id == item_id, *due).values(claimed_until=lease)
            )
            if result.rowcount == 1:
                claimed.append(item_id)
        if not claimed:
            return []
        rows = (await session.execute(
            select(OutboxItem).where(OutboxItem.id.in_(claimed)).order_by(OutboxItem.id)
        )).scalars().all()
    return list(rows)


async def _finish(core: Core, item_id: int, **values: object) -> None:
    async with core.db.transaction() as session:
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == item_id).values(claimed_until=None, **values)
        )


async def _parent(core: Core, key: str | None) -> OutboxItem | None:
    if key is None:
        return None
    async with core.db.session() as session:
        return (await session.execute(select(OutboxItem).where(OutboxItem.key == key))).scalar_one_or_none()


async def _send_one(core: Core, item: OutboxItem, gateway: ChatGateway, *, pacer: Pacer,
                    rng: random.Random, report: DeliveryReport) -> datetime | None:
    """Send one row; return when the destination may be called again if the platform said wait."""
    now = core.clock.now()
    parent_key = item.update_of or item.thread_of
    parent = await _parent(core, parent_key)
    parent_ref: str | None = None
    if parent_key is not None:
        if parent is not None and parent.ref:
            parent_ref = parent.ref
        elif parent is not None and parent.status == OutboxStatus.PENDING:
            report.waiting += 1
            await _finish(core, item.id, next_attempt_at=now + timedelta(seconds=PARENT_WAIT_SECONDS))
            return None
        elif item.update_of is not None:
            # Nothing to edit: the original never arrived (dead) or is unknown.
            report.dead += 1
            await _finish(core, item.id, status=OutboxStatus.DEAD,
                          last_error=f"the message to update ({parent_key}) was never delivered")
            return None
        # A reply whose thread never started is posted on its own rather than lost.

    message = message_from_dict(item.payload)
    try:
        await pacer.wait(item.platform, item.destination)
        if item.update_of is not None:
            assert parent_ref is not None
            await gateway.update(parent_ref, message)
            ref = parent_ref
        elif item.destination.startswith(DIRECT_PREFIX):
            ref = (await gateway.send_direct(item.destination[len(DIRECT_PREFIX):], message)).ref
        else:
            ref = (await gateway.post(item.destination, message, thread_ref=parent_ref)).ref
    except DeliveryError as exc:
        await _failed(core, item, exc, retryable=exc.retryable and not exc.gone,
                      retry_after=exc.retry_after, rng=rng, report=report)
        if exc.retry_after is not None:
            return core.clock.now() + timedelta(seconds=exc.retry_after)
        return None
    except Exception as exc:  # noqa: BLE001 - an unknown failure is retried, never lost
        log.exception("delivery of outbox item %s failed", item.id)
        await _failed(core, item, exc, retryable=True, retry_after=None, rng=rng, report=report)
        return None
    await _finish(core, item.id, status=OutboxStatus.SENT, ref=ref, sent_at=core.clock.now(),
                  attempts=item.attempts + 1, last_error="")
    report.sent += 1
    return None


async def _failed(core: Core, item: OutboxItem, exc: Exception, *, retryable: bool,
                  retry_after: float | None, rng: random.Random, report: DeliveryReport) -> None:
    now = core.clock.now()
    attempts = item.attempts + 1
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    report.errors.append(reason)
    if not retryable:
        report.dead += 1
        await _finish(core, item.id, status=OutboxStatus.DEAD, attempts=attempts, last_error=reason)
        return
    delay = retry_after if retry_after is not None else backoff_seconds(attempts, rng)
    next_at = now + timedelta(seconds=delay)
    horizon = item.horizon_start + timedelta(hours=core.settings.delivery_horizon_hours)
    if next_at > horizon:
        report.dead += 1
        await _finish(core, item.id, status=OutboxStatus.DEAD, attempts=attempts,
                      last_error=f"gave up after {attempts} attempts: {reason}"[:1000])
        return
    report.retried += 1
    await _finish(core, item.id, attempts=attempts, next_attempt_at=next_at, last_error=reason)


async def _hold_destination(core: Core, item: OutboxItem, *, until: datetime, release: list[int]) -> None:
    """Hold ``item``'s destination until ``until`` (the platform said wait).

    Slack's chat.postMessage limit is per channel, so the whole destination waits (no attempt
    counted), not just the row that got the 429: rows this run had claimed are released, and the
    hold row keeps back rows enqueued later too. Replicas upsert it, keeping the later moment.
    """
    insert = sqlite_insert if core.db.is_sqlite else pg_insert
    stmt = insert(DestinationHold).values(platform=item.platform, destination=item.destination, until=until)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "destination"],
        set_={"until": until}, where=DestinationHold.until < until)
    async with core.db.transaction() as session:
        if release:
            await session.execute(update(OutboxItem).where(OutboxItem.id.in_(release)).values(claimed_until=None))
        await session.execute(stmt)


async def deliver_due(core: Core, gateways: Mapping[str, ChatGateway], *, limit: int = 50,
                      rng: random.Random | None = None, sleep: Sleep | None = None,
                      pacer: Pacer | None = None) -> DeliveryReport:
    """Send every due outbox row (up to ``limit``); destinations in parallel, each in order."""
    rng = rng or random.Random()
    pacer = pacer or Pacer(now=core.clock.now, sleep=sleep or asyncio.sleep,
                           intervals={"slack": core.settings.slack_pace_seconds})
    report = DeliveryReport()
    items = await _claim(core, now=core.clock.now(), limit=limit)
    report.claimed = len(items)
    queues: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
    for item in items:
        queues[(item.platform, item.destination)].append(item)

    async def run_queue(queue: list[OutboxItem]) -> None:
        for n, item in enumerate(queue):
            gateway = gateways.get(item.platform)
            if gateway is None:
                await _failed(core, item, RuntimeError(f"no {item.platform} gateway is configured"),
                              retryable=True, retry_after=None, rng=rng, report=report)
                continue
            blocked_until = await _send_one(core, item, gateway, pacer=pacer, rng=rng, report=report)
            if blocked_until is not None:
                report.waiting += len(queue) - n - 1
                await _hold_destination(core, item, until=blocked_until, release=[r.id for r in queue[n + 1:]])
                return

    await asyncio.gather(*(run_queue(q) for q in queues.values()))
    return report


async def deliver_all(core: Core, gateways: Mapping[str, ChatGateway], *, limit: int = 50,
                      rng: random.Random | None = None, sleep: Sleep | None = None) -> DeliveryReport:
    """Run ``deliver_due`` until a batch comes back short (a backlog drains in one job run)."""
    total = DeliveryReport()
    while True:
        report = await deliver_due(core, gateways, limit=limit, rng=rng, sleep=sleep)
        for name in ("claimed", "sent", "retried", "dead", "waiting"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors.extend(report.errors)
        if report.claimed < limit or report.sent == 0:
            return total
