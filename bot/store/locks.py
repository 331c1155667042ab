"""Locks that serialize work between replicas: PostgreSQL advisory locks, an asyncio lock on SQLite.

Advisory lock keys are database-wide, so every key is derived from the current schema plus a
name: two deployments (or test runs) sharing one database in different schemas never block
each other. SQLite is single-process (``liaison serve`` refuses a second scheduler on a file),
so a process-wide asyncio lock per name is enough there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from weakref import WeakValueDictionary

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.db import Database

log = logging.getLogger(__name__)

# One 64-bit key per (schema, name): hashtextextended is PostgreSQL's own string hash.
_KEY = "hashtextextended(current_schema() || ':' || :name, 0)"

_LOCAL: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()


def _local(name: str) -> asyncio.Lock:
    lock = _LOCAL.get(name)
    if lock is None:
        lock = asyncio.Lock()
        _LOCAL[name] = lock
    return lock


@asynccontextmanager
async def locked_transaction(db: Database, name: str) -> AsyncIterator[AsyncSession]:
    """Open a transaction that holds lock ``name`` until it commits or rolls back.

    A second caller with the same name waits, then starts after the first one's commit, so it
    reads what the first one wrote (and typically finds nothing left to do).
    """
    if db.is_sqlite:
        async with _local(name), db.transaction() as session:
            yield session
        return
    async with db.transaction() as session:
        await session.execute(text(f"SELECT pg_advisory_xact_lock({_KEY})"), {"name": name})
        yield session


@asynccontextmanager
async def locked_transaction_all(db: Database, names: list[str]) -> AsyncIterator[AsyncSession]:
    """Open a transaction that holds every lock in ``names`` until it commits or rolls back.

    All keys are taken in one statement, in key order: two such callers never deadlock, and a
    caller of :func:`locked_transaction` holds one key at a time, so it cannot close a cycle.
    """
    if db.is_sqlite:
        async with AsyncExitStack() as stack:
            for name in sorted(set(names)):
                await stack.enter_async_context(_local(name))
            session = await stack.enter_async_context(db.transaction())
            yield session
        return
    async with db.transaction() as session:
        await lock_all_in(session, names)
        yield session


async def lock_all_in(session: AsyncSession, names: list[str]) -> None:
    """Take every lock in ``names`` inside the caller's PostgreSQL transaction, in key order (no-op on SQLite).

    Read what the locks guard only after this statement: a statement that waited for a lock
    still sees the snapshot it started with.
    """
    if session.bind.dialect.name != "postgresql":
        return
    # count() forces every row; the ordered subquery feeds the locks in key order.
    await session.execute(text(
        f"SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT {_KEY.replace(':name', 'n')} AS k "
        "FROM unnest(CAST(:names AS text[])) AS n ORDER BY k) AS keys"), {"names": sorted(set(names))})


async def lock_in(session: AsyncSession, name: str) -> None:
    """Take lock ``name`` inside the caller's PostgreSQL transaction (no-op on SQLite)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({_KEY})"), {"name": name})


# Names of the job locks this process holds right now (for /healthz).
HELD: set[str] = set()


@asynccontextmanager
async def try_hold(db: Database, name: str) -> AsyncIterator[bool]:
    """Try to take the session lock ``name`` for the block; yield whether this process got it.

    On PostgreSQL the lock lives on a connection of its own: if the process dies, the server
    ends that session and the lock is free for the next replica at once. On SQLite there is
    one scheduler per file, so the lock is always granted (unless this process already runs it).
    """
    if db.is_sqlite:
        lock = _local(f"hold:{name}")
        if lock.locked():
            yield False
            return
        async with lock:
            HELD.add(name)
            try:
                yield True
            finally:
                HELD.discard(name)
        return
    async with db.engine.connect() as conn:
        got = bool((await conn.execute(text(f"SELECT pg_try_advisory_lock({_KEY})"), {"name": name})).scalar())
        await conn.commit()
        if not got:
            yield False
            return
        HELD.add(name)
        try:
            yield True
        finally:
            HELD.discard(name)
            try:
                await conn.execute(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": name})
                await conn.commit()
            except Exception:  # noqa: BLE001 - a broken connection released the lock with it
                log.warning("could not release lock %s; its connection is gone, which releases it", name)
