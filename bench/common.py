"""What every benchmark shares: a fresh database per backend, a fixed clock, the backend's name."""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import create_engine, text

from bot.store.db import sync_url
from bot.store.schema import metadata


class FixedClock:
    """A clock the benchmark sets by hand (``moment``)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def fresh_schema(url: str, schema: str) -> str:
    """Create the tables in a fresh SQLite file or a private PostgreSQL ``schema``; return the URL to use."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        engine = create_engine(sync_url(url))
        metadata.create_all(engine)
        engine.dispose()
        return url
    # Several sessions may bench against one server at once: BENCH_SCHEMA_SUFFIX keeps their schemas apart.
    schema += os.environ.get("BENCH_SCHEMA_SUFFIX", "")
    admin = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    engine = create_engine(sync_url(scoped))
    metadata.create_all(engine)
    engine.dispose()
    return scoped


def backend(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgres") else "SQLite"
