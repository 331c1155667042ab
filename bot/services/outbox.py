"""Put outgoing messages in the outbox, in the caller's transaction; list, retry, dead letters.

Nothing is sent from a request handler: callers ``enqueue`` inside the same transaction as
the state change that caused the message, and the delivery worker (bot/services/delivery.py)
sends committed rows. A commit that enqueued wakes the worker at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import event, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Message
from bot.messages_codec import message_to_dict
from bot.store.models import Route, User
from bot.store.outbox import OutboxItem, OutboxStatus

DIRECT_PREFIX = "user:"
# A destination or identity may name its workspace first: "T0ACME/C0ALERTS", "user:T0ACME/U0MARIA".
WORKSPACE_SEPARATOR = "/"
# Platforms whose addresses may carry a workspace (Teams keys are opaque and may contain "/").
QUALIFIED_PLATFORMS = frozenset({"slack"})

# Called after any commit that enqueued something (the delivery worker's wake()).
_COMMIT_LISTENERS: set[Callable[[], None]] = set()


def add_commit_listener(listener: Callable[[], None]) -> None:
    """Call ``listener`` after every commit that enqueued a message."""
    _COMMIT_LISTENERS.add(listener)


def remove_commit_listener(listener: Callable[[], None]) -> None:
    _COMMIT_LISTENERS.discard(listener)


def _notify_after_commit(session: AsyncSession) -> None:
    sync = session.sync_session
    if sync.info.get("outbox_listener"):
        return
    sync.info["outbox_listener"] = True

    def after_commit(_session: object) -> None:
        sync.info.pop("outbox_listener", None)
        for listener in list(_COMMIT_LISTENERS):
            listener()

    event.listen(sync, "after_commit", after_commit, once=True)


def split_workspace(address: str) -> tuple[str, str]:
    """Split "T0ACME/C0ALERTS" into ("T0ACME", "C0ALERTS"); an unqualified address has workspace ""."""
    workspace, sep, rest = address.partition(WORKSPACE_SEPARATOR)
    return (workspace, rest) if sep else ("", address)


def workspace_of(destination: str) -> str:
    """Return the workspace a destination (channel, or ``user:`` for a DM) belongs to, or ""."""
    return split_workspace(destination.removeprefix(DIRECT_PREFIX))[0]


def route_key(key: str, platform: str, destination: str) -> str:
    """Derive the per-destination idempotency key of a routed message."""
    return f"{key}@{platform}:{destination}"


async def enqueue(
    session: AsyncSession,
    *,
    platform: str,
    destination: str,
    message: Message,
    key: str,
    now: datetime,
    thread_of: str | None = None,
    update_of: str | None = None,
) -> OutboxItem:
    """Add one message to the outbox (idempotent per ``key``) in the caller's transaction."""
    existing = (await session.execute(select(OutboxItem).where(OutboxItem.key == key))).scalar_one_or_none()
    if existing is not None:
        return existing
    item = OutboxItem(
        platform=platform, destination=destination, workspace=workspace_of(destination) if platform in QUALIFIED_PLATFORMS else "",
        payload=message_to_dict(message), key=key,
        status=OutboxStatus.PENDING, next_attempt_at=now, thread_of=thread_of,
        update_of=update_of, created_at=now, horizon_start=now,
    )
    session.add(item)
    await session.flush()
    _notify_after_commit(session)
    return item


async def enqueue_direct(session: AsyncSession, *, user: User, message: Message, key: str,
                         now: datetime) -> OutboxItem:
    """Add a direct message to ``user`` (one of their platform identities) to the outbox."""
    return await enqueue(session, platform=user.platform, destination=f"{DIRECT_PREFIX}{user.platform_user_id}",
                         message=message, key=key, now=now)


async def enqueue_to_route(
    session: AsyncSession,
    *,
    partner_id: int | None,
    purpose: str,
    message: Message,
    key: str,
    now: datetime,
    thread_of: str | None = None,
    update_of: str | None = None,
    routes: Sequence[Route] | None = None,
) -> list[OutboxItem]:
    """Add one outbox row per Route of ``partner_id``/``purpose`` (None partner = the client).

    ``routes``: those routes, already read (a caller sending many messages reads them once).
    """
    if routes is None:
        cond = Route.partner_id.is_(None) if partner_id is None else Route.partner_id == partner_id
        routes = (await session.execute(
            select(Route).where(cond, Route.purpose == purpose).order_by(Route.id)
        )).scalars().all()
    items = []
    for route in routes:
        items.append(await enqueue(
            session, platform=route.platform, destination=route.destination, message=message,
            key=route_key(key, route.platform, route.destination), now=now,
            thread_of=route_key(thread_of, route.platform, route.destination) if thread_of else None,
            update_of=route_key(update_of, route.platform, route.destination) if update_of else None,
        ))
    return items


async def list_items(session: AsyncSession, *, failed_only: bool = False, limit: int = 100) -> list[OutboxItem]:
    """Return the newest outbox rows; ``failed_only`` keeps failed and dead ones."""
    stmt = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if failed_only:
        stmt = stmt.where(OutboxItem.status.in_([OutboxStatus.FAILED, OutboxStatus.DEAD]))
    return list((await session.execute(stmt)).scalars().all())


async def dead_letters(session: AsyncSession, *, limit: int = 20) -> list[OutboxItem]:
    """Return the newest dead rows, for the admin's App Home."""
    stmt = (select(OutboxItem).where(OutboxItem.status == OutboxStatus.DEAD)
            .order_by(OutboxItem.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars().all())


async def retry(session: AsyncSession, *, now: datetime, item_id: int | None = None,
                all_failed: bool = False) -> int:
    """Put failed/dead rows back to pending, due now; return how many."""
    stmt = select(OutboxItem).where(OutboxItem.status.in_([OutboxStatus.FAILED, OutboxStatus.DEAD]))
    if item_id is not None:
        stmt = stmt.where(OutboxItem.id == item_id)
    elif not all_failed:
        return 0
    count = 0
    for item in (await session.execute(stmt)).scalars().all():
        item.status = OutboxStatus.PENDING
        item.attempts = 0
        item.next_attempt_at = now
        item.claimed_until = None
        item.horizon_start = now  # an operator's retry restarts the delivery horizon
        count += 1
    if count:
        _notify_after_commit(session)
    return count


async def bury_workspace(session: AsyncSession, *, platform: str, workspace: str, reason: str) -> int:
    """Turn every pending message to ``workspace`` into a dead letter with ``reason``; return how many.

    Called when the app is uninstalled from a workspace (or its bot token revoked): nothing
    queued for it can be delivered any more, and the admin sees why among the dead letters.
    """
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.platform == platform, OutboxItem.workspace == workspace,
               OutboxItem.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.DEAD, last_error=reason[:1000], claimed_until=None))
    return result.rowcount
