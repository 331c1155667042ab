"""Schema migrations through Alembic: upgrade, current revision, and drift checks."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """Build an Alembic config for ``url`` without needing an alembic.ini on disk."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest).

    A database whose tables were made by ``metadata.create_all`` (the test fixtures) has no
    revision yet holds the newest schema: it is stamped instead of migrated.
    """
    cfg = alembic_config(url)
    if current(url) is None and _has_tables(url):
        command.stamp(cfg, "head")
        return
    command.upgrade(cfg, revision)


def _has_tables(url: str) -> bool:
    from sqlalchemy import create_engine, inspect

    from bot.store.db import sync_url

    engine = create_engine(sync_url(url))
    try:
        return inspect(engine).has_table("partner")
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """Return the database's current revision id, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from bot.store.db import sync_url

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def revision(url: str, message: str) -> None:
    """Autogenerate a new revision from the difference between models and ``url``'s schema."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
