"""Inbound platform events already handled, so a platform's retry has no second side effect."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import utc_column

# A fingerprint must outlive Slack's 5-minute signature window (a replay inside it is refused by the
# row, after it by the signature check); a day also covers Events API retries and double clicks.
KEEP = timedelta(days=1)


class InboundEvent(SQLModel, table=True):
    __tablename__ = "inbound_event"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=128, unique=True)
    received_at: datetime = utc_column()


async def first_time(session: AsyncSession, *, platform: str, event_id: str, now: datetime) -> bool:
    """Record ``event_id``; return False when it was seen before (a retry)."""
    try:
        async with session.begin_nested():
            session.add(InboundEvent(platform=platform, event_id=f"{platform}:{event_id}", received_at=now))
    except IntegrityError:
        return False
    return True


async def forget(session: AsyncSession, *, platform: str, event_id: str) -> None:
    """Drop a recorded ``event_id`` so the same request may act after all (a form sent back with errors)."""
    from sqlalchemy import delete

    await session.execute(delete(InboundEvent).where(InboundEvent.event_id == f"{platform}:{event_id}"))


async def prune(session: AsyncSession, *, now: datetime, keep: timedelta = KEEP) -> int:
    """Delete events received more than ``keep`` before ``now``; return how many went."""
    from sqlalchemy import delete

    result = await session.execute(delete(InboundEvent).where(InboundEvent.received_at < now - keep))
    return result.rowcount or 0


def fingerprint(*parts: str) -> str:
    """Return a fixed-length id for a request (fits event_id whatever the parts' length)."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()
