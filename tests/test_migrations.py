"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from adapters.cli import main
from bot.store import migrate
from bot.store.db import sync_url
from bot.store.schema import metadata
from tests.conftest import PG_ENV


@pytest.fixture(params=["sqlite", "postgres"] if os.environ.get(PG_ENV) else ["sqlite"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database (no tables at all) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = os.environ[PG_ENV]
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_migrate_upgrade_head_matches_models_with_no_drift(empty_db_url):
    migrate.upgrade(empty_db_url)
    engine = create_engine(sync_url(empty_db_url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; run `liaison db revision -m ...`: {diff}"


def test_migrate_upgrade_twice_is_a_no_op(empty_db_url):
    migrate.upgrade(empty_db_url)
    first = migrate.current(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert migrate.current(empty_db_url) == first is not None


def test_cli_db_upgrade_reports_revision(empty_db_url, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_DATABASE_URL", empty_db_url)
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "database at revision" in out
    assert migrate.current(empty_db_url) in out
