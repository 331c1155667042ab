"""Where the bot can post proactively on platforms that need a stored reference (Teams)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, or_, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import utc_column


class ConversationRef(SQLModel, table=True):
    """A conversation the bot was installed in or messaged from; config routes name it by key or name."""

    __tablename__ = "conversation_ref"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="teams", max_length=16)
    key: str = Field(max_length=400, unique=True)  # the conversation id
    name: str = Field(default="", max_length=200, index=True)  # channel name or an alias from `liaison teams link`
    reference: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    service_url: str = Field(default="", max_length=400)
    tenant_id: str = Field(default="", max_length=64)
    stale: bool = False
    stale_reason: str = Field(default="", max_length=400)
    stale_at: datetime | None = utc_column(nullable=True)
    updated_at: datetime = utc_column()


async def save_reference(session: AsyncSession, *, key: str, reference: dict[str, Any], now: datetime,
                         name: str = "", service_url: str = "", tenant_id: str = "",
                         platform: str = "teams") -> ConversationRef:
    """Insert or refresh a reference; a conversation that talks to us again is no longer stale.

    The first name sticks: a name given with `liaison teams link` is what routes use, and
    a later activity carrying the channel's display name must not take it away.
    """
    row = (await session.execute(select(ConversationRef).where(ConversationRef.key == key))).scalars().first()
    if row is None:
        row = ConversationRef(key=key, reference=reference, updated_at=now, platform=platform)
    row.reference, row.updated_at, row.stale, row.stale_reason = reference, now, False, ""
    row.name = row.name or name
    row.service_url, row.tenant_id = service_url or row.service_url, tenant_id or row.tenant_id
    session.add(row)
    return row


async def find_reference(session: AsyncSession, destination: str) -> ConversationRef | None:
    """Find a reference by conversation id or by name (routes in liaison.yaml may use either)."""
    stmt = select(ConversationRef).where(or_(ConversationRef.key == destination, ConversationRef.name == destination))
    return (await session.execute(stmt.order_by(ConversationRef.updated_at.desc()))).scalars().first()


async def mark_stale(session: AsyncSession, destination: str, *, reason: str, now: datetime) -> None:
    row = await find_reference(session, destination)
    if row is not None:
        row.stale, row.stale_reason, row.stale_at = True, reason[:400], now
        session.add(row)


async def list_references(session: AsyncSession, *, stale_only: bool = False,
                          platform: str = "teams") -> list[ConversationRef]:
    """Return stored references, stale ones first, then by name."""
    stmt = select(ConversationRef).where(ConversationRef.platform == platform)
    if stale_only:
        stmt = stmt.where(ConversationRef.stale.is_(True))
    rows = (await session.execute(stmt)).scalars().all()
    return sorted(rows, key=lambda r: (not r.stale, r.name or r.key))


async def link_name(session: AsyncSession, key: str, name: str) -> ConversationRef | None:
    """Give the conversation ``key`` the name routes use; the name moves off any other conversation."""
    row = (await session.execute(select(ConversationRef).where(ConversationRef.key == key))).scalars().first()
    if row is None:
        return None
    for other in (await session.execute(select(ConversationRef).where(ConversationRef.name == name))).scalars():
        if other.key != key:
            other.name = ""
            session.add(other)
    row.name = name
    session.add(row)
    return row
