"""The example setup (liaison.example.yaml) applied to a test database, and actors from it."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.config.loader import load_config
from bot.domain.access import Actor
from bot.services.config_apply import apply_config
from bot.services.escalations import actor_of
from bot.store.db import Database
from bot.store.models import Partner, User

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"


class World:
    """Partners and users of the example config, by slug and handle."""

    def __init__(self, partners: dict[str, Partner], users: list[User]) -> None:
        self.partners = partners
        self._users = users
        self._slugs = {p.id: p.slug for p in partners.values()}

    def actor(self, handle: str, platform: str = "slack") -> Actor:
        user = next(u for u in self._users if u.handle == handle and u.platform == platform)
        actor = actor_of(user)
        slug = self._slugs.get(user.partner_id) if user.partner_id else None
        return Actor(actor.platform, actor.platform_user_id, actor.role, actor.user_id, actor.name,
                     actor.partner_id, slug, actor.capabilities)

    def user(self, handle: str, platform: str = "slack") -> User:
        return next(u for u in self._users if u.handle == handle and u.platform == platform)


UNKNOWN = Actor(platform="slack", platform_user_id="U0STRANGER")


async def make_world(db: Database) -> World:
    """Apply the example config and return its partners and users."""
    await apply_config(db, load_config(EXAMPLE))
    async with db.session() as session:
        partners = {p.slug: p for p in (await session.exec(select(Partner))).all()}
        users = list((await session.exec(select(User))).all())
    return World(partners, users)
