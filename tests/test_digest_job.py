"""Digest job timing across timezones with the FrozenClock, idempotent on rerun."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.store.models import Route
from bot.store.outbox import OutboxItem
from jobs import digest as digest_job


async def routes(db, *partners):  # noqa: ANN001
    async with db.transaction() as s:
        for p in partners:
            s.add(Route(partner_id=p.id, purpose="digests", platform="slack", destination=f"C0{p.slug.upper()}DIG"))
        s.add(Route(partner_id=None, purpose="digests", platform="slack", destination="C0LEADDIG"))


async def keys(db) -> list[str]:  # noqa: ANN001
    async with db.session() as s:
        return sorted((await s.execute(select(OutboxItem.key))).scalars().all())


async def test_digest_job_monday_0900_manila_before_sao_paulo_idempotent(db, core, clock, make_partner):
    northwind = await make_partner("northwind", tz="Asia/Manila", sites=("manila",))
    globex = await make_partner("globex", tz="America/Sao_Paulo", sites=("saopaulo",))
    await routes(db, northwind, globex)

    clock.set(datetime(2026, 11, 16, 0, 59, tzinfo=UTC))  # Manila 08:59 Monday
    assert await digest_job.run(core) == []
    clock.set(datetime(2026, 11, 16, 1, 0, tzinfo=UTC))  # Manila 09:00 Monday
    assert await digest_job.run(core) == ["digest:northwind:2026-W46"]
    clock.set(datetime(2026, 11, 16, 11, 59, tzinfo=UTC))  # Sao Paulo 08:59; the client (UTC) is past 09:00
    assert await digest_job.run(core) == ["digest:portfolio:2026-W46"]  # northwind not sent twice
    clock.set(datetime(2026, 11, 16, 12, 0, tzinfo=UTC))  # Sao Paulo 09:00
    assert await digest_job.run(core) == ["digest:globex:2026-W46"]
    assert await digest_job.run(core) == []
    assert await keys(db) == [
        "digest:globex:2026-W46@slack:C0GLOBEXDIG",
        "digest:northwind:2026-W46@slack:C0NORTHWINDDIG",
        "digest:portfolio:2026-W46@slack:C0LEADDIG",
    ]


async def test_digest_job_stale_week_skipped_then_next_monday_sent(db, core, clock, make_partner):
    northwind = await make_partner("northwind", tz="Asia/Manila", sites=("manila",))
    await routes(db, northwind)
    clock.set(datetime(2026, 11, 22, 15, 0, tzinfo=UTC))  # Manila Sunday 23:00: W46's send moment is 6 days old
    assert await digest_job.run(core) == []
    clock.set(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Manila Monday 09:00 -> W47
    assert await digest_job.run(core) == ["digest:northwind:2026-W47"]  # the client's Monday 09:00 is later
