"""Turn a platform identity into the Actor the core authorizes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Core
from bot.domain.access import Actor, Role
from bot.store.models import Partner, User


async def actor_for(session: AsyncSession, *, platform: str, platform_user_id: str) -> Actor:
    """Return the Actor for a platform user; unknown or deactivated users get role None."""
    row = (await session.execute(
        select(User, Partner.slug)
        .join(Partner, Partner.id == User.partner_id, isouter=True)
        .where(User.platform == platform, User.platform_user_id == platform_user_id)
    )).first()
    if row is None or not row[0].active:
        return Actor(platform=platform, platform_user_id=platform_user_id)
    user, slug = row
    return Actor(
        platform=platform,
        platform_user_id=platform_user_id,
        role=Role(user.role),
        user_id=user.id,
        name=user.name,
        partner_id=user.partner_id,
        partner_slug=slug,
        capabilities=frozenset(user.capabilities or ()),
    )


async def resolve_actor(core: Core, *, platform: str, platform_user_id: str) -> Actor:
    """Look the user up in a session of its own (adapters call this once per request)."""
    async with core.db.session() as session:
        return await actor_for(session, platform=platform, platform_user_id=platform_user_id)


# One message per person, not per identity: their first identity in this order.
PLATFORM_PREFERENCE = ("slack", "teams", "console")


def preferred_identity(users: Sequence[User]) -> User:
    """Return the identity to message a person on: Slack, else Teams, else the console."""
    return min(users, key=lambda u: (PLATFORM_PREFERENCE.index(u.platform)
                                     if u.platform in PLATFORM_PREFERENCE else 99, u.id))
