"""Send due outbox rows through the chat gateways: claim, send, mark, retry or give up.

Safe with several replicas (PostgreSQL coordinates, no broker):

- One sender per destination at a time, in enqueue order. Claims are serialized by an
  advisory lock (scoped to the schema), and a claim skips a destination that has rows leased
  by another batch, rows held by the platform (429), or an earlier row waiting for a retry.
- Every batch has a claim token; its rows' lease is renewed while the batch runs, and a row
  is finished (sent, retried, dead) only by the holder of its token.
- The pace (one message per LIAISON_SLACK_PACE_SECONDS per channel) and Retry-After holds live
  in the ``destination_hold`` row, so N replicas together keep one channel at the pace.
  A gateway with ``window_limits`` (Teams: 7 per 1 s, 8 per 2 s, 60 per 30 s, 1800 per hour
  per conversation) is paced by the destination's sends recorded in the outbox (``sent_at``,
  by every replica), so a destination handed from one replica to the next keeps them too.
- A row is marked in flight (``sending_since``) just before the platform is called and
  marked sent in its own short transaction right after. A row reclaimed with the mark set
  (its sender died mid-send or got no answer) is first looked up on the platform when the
  gateway can (Slack: the outbox key rides in message metadata) and only posted if absent.
- A batch takes a few rows per destination (about ``BATCH_SECONDS`` of sending at its pace) from
  as many destinations as it can, first rows of every destination before second ones: every
  free channel is busy at once, and a channel with a deep backlog holds a batch (and channels
  waiting for the next one) only that long. ``deliver_all`` runs batch after batch.
- A short Retry-After (within the batch's ``BATCH_SECONDS`` budget) is waited out inside the
  batch: the destination's rows stay claimed, the hold row tells other replicas, and the row
  goes again when the hold ends. A longer one hands the destination back (held) as a whole.
- On SIGTERM (``core.draining``) nothing more is claimed; the send in flight finishes and is
  recorded, the batch's other rows are handed back at once (a Retry-After wait is cut short).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from bot.core import Core
from bot.messages_codec import message_from_dict
from bot.ports import ChatGateway, DeliveryError, KeyedGateway
from bot.services.outbox import DIRECT_PREFIX
from bot.store.locks import locked_transaction
from bot.store.outbox import DestinationHold, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0
# How long a reply/update waits for the message it belongs to before being looked at again.
PARENT_WAIT_SECONDS = 2.0
# A message in doubt is looked for among messages posted since its send began, minus this margin
# (clock skew between replicas and Slack).
LOOKUP_MARGIN = timedelta(minutes=5)
# A batch waiting out a Retry-After looks this often whether the process is stopping.
DRAIN_CHECK_SECONDS = 0.25
# One destination's share of a batch lasts about this long at its pace (see per_destination_caps).
BATCH_SECONDS = 5.0
# Rows per batch, over every destination: a few per destination, many destinations at once.
BATCH_LIMIT = 500
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0  # replies whose parent message has no ref yet, rows behind a hold or a retry
    found: int = 0  # sends in doubt found already on the platform (recorded, not sent again)
    lost: int = 0  # rows whose claim another worker took over (not touched again)
    errors: list[str] = field(default_factory=list)


def pace_seconds(core: Core, platform: str) -> float:
    """Return the least gap between two messages to one destination of ``platform``."""
    return core.settings.slack_pace_seconds if platform == "slack" else 0.0


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Return the wait before attempt ``attempts + 1``: exponential with full jitter on top half."""
    ceiling = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def _same_destination(other):  # noqa: ANN001, ANN202
    return (other.platform == OutboxItem.platform) & (other.destination == OutboxItem.destination) & (
        other.status == OutboxStatus.PENDING)


def _due(now: datetime, token: str) -> tuple:
    """Return the conditions under which a row may be claimed by batch ``token`` at ``now``."""
    other = aliased(OutboxItem)
    free = or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now)
    held = exists().where(DestinationHold.platform == OutboxItem.platform,
                          DestinationHold.destination == OutboxItem.destination, DestinationHold.until > now)
    # another live batch is sending to this destination: one sender per destination at a time
    busy = exists().where(_same_destination(other), other.claimed_until >= now, other.claim_token != token)
    # an earlier row of the destination waits for its retry: later ones wait behind it (enqueue order)
    behind = exists().where(_same_destination(other), other.id < OutboxItem.id, other.next_attempt_at > now)
    return (OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= now, free,
            ~held, ~busy, ~behind)


def per_destination_caps(core: Core, gateways: Mapping[str, ChatGateway], limit: int) -> dict[str, int]:
    """Return, per platform, how many rows of one destination a batch takes.

    About ``BATCH_SECONDS`` of sending at the destination's pace (Slack: one message per
    LIAISON_SLACK_PACE_SECONDS; a gateway with ``window_limits``: what its windows let through
    in that time): a batch keeps every free destination busy, and a destination with a deep
    backlog cannot hold a batch (and so destinations waiting for the next one) for long.
    """
    caps: dict[str, int] = {}
    for platform, gateway in gateways.items():
        cap = limit
        pace = pace_seconds(core, platform)
        if pace > 0:
            cap = min(cap, max(1, math.ceil(BATCH_SECONDS / pace)))
        for count, window in getattr(gateway, "window_limits", ()):
            cap = min(cap, max(1, count * max(1, math.ceil(BATCH_SECONDS / window))))
        caps[platform] = cap
    return caps


async def _claim(core: Core, *, now: datetime, limit: int, token: str | None = None,
                 per_destination: Mapping[str, int] | None = None) -> list[OutboxItem]:
    """Lease up to ``limit`` due rows to batch ``token``: each destination's oldest due rows, at most
    ``per_destination[platform]`` of them, first rows of every destination before second ones."""
    if core.draining:
        return []
    token = token or uuid.uuid4().hex
    lease = now + timedelta(seconds=core.settings.delivery_lease_seconds)
    due = _due(now, token)
    # Claims are short and serialized (an advisory lock on PostgreSQL): a claim sees every
    # earlier claim committed, so two replicas never share a destination.
    async with locked_transaction(core.db, "outbox:claim") as session:
        ranked = select(OutboxItem.id, OutboxItem.platform, func.row_number().over(
            partition_by=(OutboxItem.platform, OutboxItem.destination), order_by=OutboxItem.id).label("rn")
        ).where(*due).subquery()
        cap = case(dict(per_destination), value=ranked.c.platform, else_=limit) if per_destination else limit
        ids = list((await session.execute(
            select(ranked.c.id).where(ranked.c.rn <= cap).order_by(ranked.c.rn, ranked.c.id).limit(limit)
        )).scalars().all())
        if not ids:
            return []
        # The conditional UPDATE is the real claim: a row that stopped being due since the
        # read above (another batch renewed its lease, say) is not taken.
        await session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(ids), *due)
            .values(claimed_until=lease, claim_token=token).execution_options(synchronize_session=False))
        rows = (await session.execute(
            select(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.claim_token == token)
            .order_by(OutboxItem.id))).scalars().all()
    return list(rows)


async def _finish(core: Core, item: OutboxItem, *, pace_until: datetime | None = None, keep_claim: bool = False,
                  **values: object) -> bool:
    """Record the outcome of ``item`` if this batch still owns it; return whether it did.

    The claim ends with it, unless ``keep_claim`` (the batch tries the row again itself).
    """
    if not keep_claim:
        values |= {"claimed_until": None, "claim_token": None}
    async with core.db.transaction() as session:
        result = await session.execute(
            update(OutboxItem).where(OutboxItem.id == item.id, OutboxItem.claim_token == item.claim_token)
            .values(**values).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            log.warning("outbox item %s (%s) was taken over by another worker; leaving it to them",
                        item.id, item.key)
            return False
        if pace_until is not None:
            await _upsert_destination(core, session, item, next_send_at=pace_until)
    return True


async def _upsert_destination(core: Core, session, item: OutboxItem, *, until: datetime | None = None,  # noqa: ANN001
                              next_send_at: datetime | None = None) -> None:
    insert = sqlite_insert if core.db.is_sqlite else pg_insert
    values = {"platform": item.platform, "destination": item.destination}
    if until is not None:
        stmt = insert(DestinationHold).values(**values, until=until)
        stmt = stmt.on_conflict_do_update(index_elements=["platform", "destination"],
                                          set_={"until": until}, where=DestinationHold.until < until)
    else:
        stmt = insert(DestinationHold).values(**values, until=next_send_at, next_send_at=next_send_at)
        stmt = stmt.on_conflict_do_update(index_elements=["platform", "destination"],
                                          set_={"next_send_at": next_send_at})
    await session.execute(stmt)


async def _release(core: Core, items: list[OutboxItem]) -> None:
    """Hand claimed, unsent rows back (no attempt counted): another batch may take them at once."""
    if not items:
        return
    async with core.db.transaction() as session:
        for item in items:
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id, OutboxItem.claim_token == item.claim_token)
                .values(claimed_until=None, claim_token=None).execution_options(synchronize_session=False))


async def _start_sending(core: Core, item: OutboxItem, now: datetime) -> bool:
    """Mark ``item`` in flight, checking this batch still owns it; return whether it does."""
    values: dict[str, object] = {
        "claimed_until": now + timedelta(seconds=core.settings.delivery_lease_seconds)}
    if item.sending_since is None:
        values["sending_since"] = now
    async with core.db.transaction() as session:
        result = await session.execute(
            update(OutboxItem).where(OutboxItem.id == item.id, OutboxItem.claim_token == item.claim_token,
                                     OutboxItem.status == OutboxStatus.PENDING)
            .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def _renew(core: Core, token: str) -> None:
    """Keep batch ``token``'s lease alive while it sends (a slow platform never lets it lapse)."""
    lease = core.settings.delivery_lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        try:
            async with core.db.transaction() as session:
                await session.execute(
                    update(OutboxItem).where(OutboxItem.claim_token == token, OutboxItem.status == OutboxStatus.PENDING,
                                             OutboxItem.claimed_until.is_not(None))
                    .values(claimed_until=core.clock.now() + timedelta(seconds=lease))
                    .execution_options(synchronize_session=False))
        except Exception:  # noqa: BLE001 - the next beat tries again; the lease has two more thirds
            log.warning("could not renew the delivery lease of batch %s", token, exc_info=True)


async def _parent(core: Core, key: str | None) -> OutboxItem | None:
    if key is None:
        return None
    async with core.db.session() as session:
        return (await session.execute(select(OutboxItem).where(OutboxItem.key == key))).scalar_one_or_none()


@dataclass
class _Pace:
    """A destination's next allowed send as its batch knows it.

    Read from ``destination_hold`` before the batch's first send there; after each send the
    batch knows it without reading (it holds the destination: no other sender moves it).
    """

    next_at: datetime | None = None
    known: bool = False


async def _wait_for_pace(core: Core, item: OutboxItem, sleep: Sleep, pace: _Pace) -> None:
    """Sleep until the destination's shared pace allows the next message."""
    if not pace_seconds(core, item.platform):
        return
    if not pace.known:
        async with core.db.session() as session:
            pace.next_at = (await session.execute(select(DestinationHold.next_send_at).where(
                DestinationHold.platform == item.platform,
                DestinationHold.destination == item.destination))).scalar()
        pace.known = True
    next_at = pace.next_at
    if next_at is not None:
        remaining = (next_at - core.clock.now()).total_seconds()
        if remaining > 0:
            await sleep(remaining)


async def _wait_for_windows(core: Core, item: OutboxItem, limits: tuple[tuple[int, float], ...],
                            sleep: Sleep) -> float:
    """Sleep until the destination's recorded sends leave room under every ``(count, window)``; return the wait.

    The sends are the outbox's, by every replica (one sender per destination at a time, so the
    sends before this one are recorded). ``sent_at`` is taken after the platform answered, a
    little after the message arrived, which errs on the slow side.
    """
    if not limits:
        return 0.0
    now = core.clock.now()
    wait = 0.0
    async with core.db.session() as session:
        for count, window in limits:
            # the count-th latest send inside the window: the next may go once it is a window old
            nth = (await session.execute(
                select(OutboxItem.sent_at).where(
                    OutboxItem.platform == item.platform, OutboxItem.destination == item.destination,
                    OutboxItem.status == OutboxStatus.SENT, OutboxItem.sent_at > now - timedelta(seconds=window))
                .order_by(OutboxItem.sent_at.desc()).offset(count - 1).limit(1))).scalar()
            if nth is not None:
                wait = max(wait, (nth + timedelta(seconds=window) - now).total_seconds())
    if wait > 0:
        await sleep(wait)
    return wait


class _Outcome:
    NEXT = "next"  # go on with the destination's next row
    STOP = "stop"  # hand the destination's other rows back (order: they wait behind this one)
    HOLD = "hold"  # the platform said wait: hold the destination
    WAIT = "wait"  # the platform said wait briefly: the batch keeps the row (and the rest) and waits


async def _send_one(core: Core, item: OutboxItem, gateway: ChatGateway, *, sleep: Sleep,
                    rng: random.Random, report: DeliveryReport, paced: _Pace | None = None,
                    wait_budget: float = 0.0) -> tuple[str, datetime | None]:
    """Send one row; return what the destination's queue does next (and until when it holds).

    A Retry-After of at most ``wait_budget`` seconds keeps the row claimed (``WAIT``): the batch
    waits it out and sends the row again rather than handing the destination back.
    """
    now = core.clock.now()
    parent_key = item.update_of or item.thread_of
    parent = await _parent(core, parent_key)
    parent_ref: str | None = None
    if parent_key is not None:
        if parent is not None and parent.ref and parent.status == OutboxStatus.SENT:
            parent_ref = parent.ref
        elif parent is not None and parent.status == OutboxStatus.PENDING:
            report.waiting += 1
            await _finish(core, item, next_attempt_at=now + timedelta(seconds=PARENT_WAIT_SECONDS))
            return _Outcome.STOP, None
        elif parent is not None and parent.ref:
            parent_ref = parent.ref
        elif item.update_of is not None:
            # Nothing to edit: the original never arrived (dead) or is unknown.
            report.dead += 1
            await _finish(core, item, status=OutboxStatus.DEAD, sending_since=None,
                          last_error=f"the message to update ({parent_key}) was never delivered")
            return _Outcome.NEXT, None
        # A reply whose thread never started is posted on its own rather than lost.

    message = message_from_dict(item.payload)
    keyed = isinstance(gateway, KeyedGateway) and item.update_of is None
    files_error = ""
    # a row in doubt stays in doubt until a lookup has answered: a failed lookup must not clear it
    resolved = item.sending_since is None or not keyed
    pace = pace_seconds(core, item.platform)
    try:
        paced = paced or _Pace()
        await _wait_for_pace(core, item, sleep, paced)
        if await _wait_for_windows(core, item, getattr(gateway, "window_limits", ()), sleep) and core.draining:
            # stopping while this destination waited for its window: hand the row back unsent
            await _release(core, [item])
            report.waiting += 1
            return _Outcome.STOP, None
        if not await _start_sending(core, item, core.clock.now()):
            report.lost += 1
            return _Outcome.STOP, None
        if keyed:
            assert isinstance(gateway, KeyedGateway)
            ref = item.ref  # set once the message itself was posted (its files may still be due)
            if ref is None and item.sending_since is not None:
                # the last send of this row may have reached the platform: look before posting again
                ref = await gateway.find_posted(item.destination, item.key, thread_ref=parent_ref,
                                                since=item.sending_since - LOOKUP_MARGIN)
                resolved = True
                if ref is not None:
                    report.found += 1
                    log.info("outbox item %s (%s) was already on the platform; not sent again", item.id, item.key)
            if ref is None:
                ref = (await gateway.post_keyed(item.destination, message, key=item.key, thread_ref=parent_ref)).ref
            if message.image is not None or message.attachments:
                # the message is one recorded step, its files another: a failing upload never repeats it
                await _record_ref(core, item, ref)
                try:
                    await gateway.attach(ref, message)
                except Exception as exc:  # noqa: BLE001 - the message stands on its own; the failure is kept
                    log.warning("outbox item %s posted as %s but its files failed: %s", item.id, ref, exc)
                    files_error = f"posted; files failed: {type(exc).__name__}: {exc}"[:1000]
                    report.errors.append(files_error)
        elif item.update_of is not None:
            assert parent_ref is not None
            await gateway.update(parent_ref, message)
            ref = parent_ref
        elif item.destination.startswith(DIRECT_PREFIX):
            ref = (await gateway.send_direct(item.destination[len(DIRECT_PREFIX):], message)).ref
        else:
            ref = (await gateway.post(item.destination, message, thread_ref=parent_ref)).ref
    except DeliveryError as exc:
        kept = await _failed(core, item, exc, retryable=exc.retryable and not exc.gone,
                             in_doubt=exc.in_doubt or not resolved, retry_after=exc.retry_after, rng=rng,
                             report=report,
                             keep_claim=exc.retry_after is not None and exc.retry_after <= wait_budget)
        if exc.retry_after is not None:
            return (_Outcome.WAIT if kept else _Outcome.HOLD), core.clock.now() + timedelta(seconds=exc.retry_after)
        # a dead row is over, the next goes on; a retried one keeps its place ahead of the rest
        return (_Outcome.STOP if exc.retryable and not exc.gone else _Outcome.NEXT), None
    except Exception as exc:  # noqa: BLE001 - an unknown failure is retried, never lost
        log.exception("delivery of outbox item %s failed", item.id)
        await _failed(core, item, exc, retryable=True, in_doubt=True, retry_after=None, rng=rng, report=report)
        return _Outcome.STOP, None
    sent_at = core.clock.now()
    if pace:
        paced.next_at, paced.known = sent_at + timedelta(seconds=pace), True
    if await _finish(core, item, status=OutboxStatus.SENT, ref=ref, sent_at=sent_at, sending_since=None,
                     attempts=item.attempts + 1, last_error=files_error,
                     pace_until=sent_at + timedelta(seconds=pace) if pace else None):
        report.sent += 1
    else:
        report.lost += 1
    return _Outcome.NEXT, None


async def _record_ref(core: Core, item: OutboxItem, ref: str) -> None:
    """Record that the message of ``item`` is posted (its files come next)."""
    async with core.db.transaction() as session:
        await session.execute(update(OutboxItem).where(OutboxItem.id == item.id,
                                                       OutboxItem.claim_token == item.claim_token)
                              .values(ref=ref).execution_options(synchronize_session=False))


async def _failed(core: Core, item: OutboxItem, exc: Exception, *, retryable: bool, retry_after: float | None,
                  rng: random.Random, report: DeliveryReport, in_doubt: bool = False,
                  keep_claim: bool = False) -> bool:
    """Record a failed attempt: retry later, or dead. Return whether the row stays claimed (``keep_claim``
    and it is to be retried)."""
    now = core.clock.now()
    attempts = item.attempts + 1
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    report.errors.append(reason)
    # A definite refusal means the platform did not take it; no answer at all leaves it in doubt,
    # so the next attempt looks first (sending_since stays set).
    doubt = {} if in_doubt else {"sending_since": None}
    if not retryable:
        report.dead += 1
        await _finish(core, item, status=OutboxStatus.DEAD, attempts=attempts, last_error=reason, **doubt)
        return False
    delay = retry_after if retry_after is not None else backoff_seconds(attempts, rng)
    next_at = now + timedelta(seconds=delay)
    horizon = item.horizon_start + timedelta(hours=core.settings.delivery_horizon_hours)
    if next_at > horizon:
        report.dead += 1
        await _finish(core, item, status=OutboxStatus.DEAD, attempts=attempts,
                      last_error=f"gave up after {attempts} attempts: {reason}"[:1000], **doubt)
        return False
    report.retried += 1
    return await _finish(core, item, attempts=attempts, next_attempt_at=next_at, last_error=reason,
                         keep_claim=keep_claim, **doubt) and keep_claim


async def _hold_destination(core: Core, item: OutboxItem, *, until: datetime, release: list[OutboxItem]) -> None:
    """Hold ``item``'s destination until ``until`` (the platform said wait).

    Slack's chat.postMessage limit is per channel, so the whole destination waits (no attempt
    counted), not just the row that got the 429: rows this batch had claimed are released, and the
    hold row keeps back rows enqueued later too. Replicas upsert it, keeping the later moment.
    """
    async with core.db.transaction() as session:
        await _upsert_destination(core, session, item, until=until)
    await _release(core, release)


async def _wait_out(core: Core, until: datetime, sleep: Sleep) -> bool:
    """Sleep until ``until`` in short steps; return False as soon as the process drains."""
    total = (until - core.clock.now()).total_seconds()
    slept = 0.0
    while slept < total:
        if core.draining:
            return False
        step = min(total - slept, DRAIN_CHECK_SECONDS)
        await sleep(step)
        slept += step
    return not core.draining


async def _reload(core: Core, item: OutboxItem) -> OutboxItem | None:
    """Return ``item`` as stored now if this batch still owns it and it is pending, else None."""
    async with core.db.session() as session:
        return (await session.execute(select(OutboxItem).where(
            OutboxItem.id == item.id, OutboxItem.claim_token == item.claim_token,
            OutboxItem.status == OutboxStatus.PENDING))).scalar_one_or_none()


async def deliver_due(core: Core, gateways: Mapping[str, ChatGateway], *, limit: int = BATCH_LIMIT,
                      rng: random.Random | None = None, sleep: Sleep | None = None) -> DeliveryReport:
    """Send one batch of due outbox rows (up to ``limit``, a few per destination); destinations in
    parallel, each in order."""
    rng = rng or random.Random()
    sleep = sleep or asyncio.sleep
    report = DeliveryReport()
    token = uuid.uuid4().hex
    items = await _claim(core, now=core.clock.now(), limit=limit, token=token,
                         per_destination=per_destination_caps(core, gateways, limit))
    report.claimed = len(items)
    if not items:
        return report
    queues: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
    for item in items:
        queues[(item.platform, item.destination)].append(item)
    # which process holds which rows: an operator (and the replica tests) can follow a claim token
    log.info("delivery batch %s: %d row(s) to %d destination(s)", token, len(items), len(queues))

    async def run_queue(queue: list[OutboxItem]) -> None:
        paced = _Pace()
        # a short Retry-After is waited out inside the batch, up to this many seconds in all
        budget = BATCH_SECONDS
        n = 0
        while n < len(queue):
            item = queue[n]
            if core.draining:  # shutting down: hand the rest back now rather than after a lease
                await _release(core, queue[n:])
                return
            gateway = gateways.get(item.platform)
            if gateway is None:
                await _failed(core, item, RuntimeError(f"no {item.platform} gateway is configured"),
                              retryable=True, retry_after=None, rng=rng, report=report)
                n += 1
                continue
            outcome, hold_until = await _send_one(core, item, gateway, sleep=sleep, rng=rng, report=report,
                                                  paced=paced, wait_budget=budget)
            if outcome == _Outcome.NEXT:
                n += 1
                continue
            if outcome == _Outcome.WAIT:
                # The row and the rest stay this batch's; the hold row keeps other replicas out
                # (and tells the next batch, should this one stop). The same row goes again
                # when the hold ends, to the second.
                assert hold_until is not None
                budget -= max(0.0, (hold_until - core.clock.now()).total_seconds())
                await _hold_destination(core, item, until=hold_until, release=[])
                fresh = await _reload(core, item) if await _wait_out(core, hold_until, sleep) else None
                if fresh is not None:
                    queue[n] = fresh
                    continue
                if not core.draining:
                    report.lost += 1  # another worker took the row over: the destination is theirs
                # stopping (or lost): the row (already counted as retried) and the rest go back
                report.waiting += len(queue) - n - 1
                await _release(core, queue[n:])
                return
            rest = queue[n + 1:]
            report.waiting += len(rest)
            if outcome == _Outcome.HOLD:
                assert hold_until is not None
                await _hold_destination(core, item, until=hold_until, release=rest)
            else:
                await _release(core, rest)
            return

    renew = asyncio.create_task(_renew(core, token))
    try:
        # shielded: a cancelled job (shutdown past its grace) still records the send in flight
        await asyncio.shield(asyncio.gather(*(run_queue(q) for q in queues.values())))
    finally:
        renew.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renew
    return report


async def deliver_all(core: Core, gateways: Mapping[str, ChatGateway], *, limit: int = BATCH_LIMIT,
                      rng: random.Random | None = None, sleep: Sleep | None = None) -> DeliveryReport:
    """Run ``deliver_due`` batch after batch while batches claim rows and get them out (a backlog
    drains in one job run; a batch takes only a few rows per destination)."""
    total = DeliveryReport()
    while not core.draining:
        report = await deliver_due(core, gateways, limit=limit, rng=rng, sleep=sleep)
        for name in ("claimed", "sent", "retried", "dead", "waiting", "found", "lost"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors.extend(report.errors)
        if report.claimed == 0 or report.sent + report.found + report.dead == 0:
            return total
    return total
