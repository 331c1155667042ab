"""Tell admins on their Home which chat conversations removed the bot (posts there fail until fixed)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.access import Actor
from bot.messages import Section
from bot.services.home import HOME_SECTIONS
from bot.store.conversations import list_references


async def stale_conversations_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    """List stale Teams conversations for admins; nothing when all are reachable."""
    if not actor.is_admin:
        return None
    rows = await list_references(session, stale_only=True)
    if not rows:
        return None
    return Section(heading="Teams conversations Liaison can no longer post to", bullets=tuple(
        f"{row.name or row.key}: {row.stale_reason}"
        + (f" (since {row.stale_at:%Y-%m-%d %H:%M} UTC)" if row.stale_at else "")
        + ". Reinstall the app there or change the route; `liaison teams refs --stale` lists them." for row in rows))


if stale_conversations_section not in HOME_SECTIONS:
    HOME_SECTIONS.append(stale_conversations_section)
