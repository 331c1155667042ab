"""Shared fixtures: a fresh database per test on SQLite and, when configured, PostgreSQL.

Set LIAISON_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) and every
test using ``db``/``db_url`` runs once per backend. Each pytest run gets its own PostgreSQL
schema, so concurrent runs on one server never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from bot.store.db import Database, sync_url
from bot.store.schema import metadata
from tests.fakes.clock import FrozenClock

PG_ENV = "LIAISON_TEST_DATABASE_URL"


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(PG_ENV) else ["sqlite"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Generate ``replicas`` tests for PostgreSQL only (SQLite is one process by design).

    Replicas coordinate through PostgreSQL; on SQLite `serve` refuses a second process (its
    own test). The SQLite half of such a test is not generated rather than skipped; CI always
    sets LIAISON_TEST_DATABASE_URL, so the PostgreSQL half always runs there.
    """
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("replicas") is not None and params.get("db_url") == "sqlite":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str | None]:
    """Create a private schema for this run and the tables in it; drop it afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = create_sync_engine(sync_url(url))
    metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_sync_engine(sync_url(url))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path, pg_schema_url) -> str:
    """A database URL with the full schema and no rows, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'liaison-test.db'}"
        engine = create_sync_engine(sync_url(url))
        metadata.create_all(engine)
        engine.dispose()
        return url
    assert pg_schema_url is not None
    _truncate_pg(pg_schema_url)
    return pg_schema_url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at Monday 2026-11-16 10:00 UTC; tests move it with advance()."""
    return FrozenClock.at("2026-11-16T10:00:00+00:00")


@pytest.fixture
def core(db, clock):
    """A Core on the test database with the frozen clock and default settings."""
    from bot.core import Core
    from bot.settings import Settings

    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)


@pytest.fixture
def make_partner(db):
    """Create a partner with sites: ``await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))``."""
    from bot.store.models import Partner, Site

    async def make(slug: str = "acme", *, name: str | None = None, tz: str = "Europe/Berlin",
                   sites: tuple[str, ...] = ("krakow",)) -> Partner:
        async with db.transaction() as s:
            partner = Partner(slug=slug, name=name or slug.title(), timezone=tz)
            s.add(partner)
            await s.flush()
            for key in sites:
                s.add(Site(partner_id=partner.id, key=key, name=key.title()))
        return partner

    return make


@pytest.fixture
def make_user(db):
    """Create a user: ``await make_user("U1", role="partner", partner=acme)``; returns the Actor."""
    from bot.domain.access import Actor, Role
    from bot.store.models import User

    async def make(uid: str, *, role: str = "client", partner=None, platform: str = "console",  # noqa: ANN001
                   capabilities: tuple[str, ...] = ()) -> Actor:
        async with db.transaction() as s:
            user = User(platform=platform, platform_user_id=uid, name=uid, role=role,
                        partner_id=partner.id if partner else None, capabilities=list(capabilities))
            s.add(user)
            await s.flush()
        return Actor(platform=platform, platform_user_id=uid, role=Role(role), user_id=user.id, name=uid,
                     partner_id=partner.id if partner else None, partner_slug=partner.slug if partner else None,
                     capabilities=frozenset(capabilities))

    return make
