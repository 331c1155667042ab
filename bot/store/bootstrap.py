"""Bring a database to the current schema before use (Alembic migrations)."""

from __future__ import annotations

import asyncio

from bot.store import migrate
from bot.store.db import Database


async def ensure_schema(db: Database) -> str | None:
    """Apply pending migrations to ``db`` and return its revision (runs Alembic off the loop)."""
    await asyncio.to_thread(migrate.upgrade, db.url)
    return await asyncio.to_thread(migrate.current, db.url)
