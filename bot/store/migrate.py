"""Schema migrations through Alembic: upgrade, current revision, and drift checks."""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The session-level advisory lock that serializes migrations between processes on PostgreSQL.
MIGRATION_LOCK_KEY = zlib.crc32(b"liaison:migrations")


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
    # Replicas start together: the check and the stamp or upgrade happen under one lock, so the
    # second process finds the first one's revision instead of stamping or migrating again.
    with _migration_lock(url):
        if current(url) is None and _has_tables(url):
            command.stamp(cfg, "head")
            return
        command.upgrade(cfg, revision)


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Hold a lock that only one process at a time can hold for this database.

    PostgreSQL: a session advisory lock on a connection of its own. SQLite: an exclusive
    ``flock`` on a file beside the database (an in-memory database belongs to one process).
    """
    from sqlalchemy import create_engine, make_url, pool, text

    from bot.store.db import is_sqlite, sync_url

    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


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
