"""A scheduled run survives one bad partner: the digest, QBR and pulse jobs log it and serve the others.

The bad partner is made bad the way a hand-edited or older database would be: a stored policy
document that no longer parses. It sorts first, so a run that stopped at the first failure would
send nothing at all. Counted from the database: the outbox rows each partner got.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.domain.access import Role
from bot.ports import ManualClock
from bot.services.qbr import sync_schedule
from bot.settings import Settings
from bot.store.models import Partner, Route, User
from bot.store.outbox import OutboxItem
from bot.store.policy import PartnerPolicy
from jobs import digest as digest_job
from jobs import feedback as feedback_job
from jobs import qbr as qbr_job

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Berlin
TZ = "Europe/Berlin"
LOCAL = NOW.astimezone(ZoneInfo(TZ)).replace(tzinfo=None)

GOOD = {
    "digest": {"day": "wed", "time": "09:00"},
    "pulse": {"cadence": "monthly", "day": 1, "time": "00:00"},
    "qbr": {"cadence": "dates", "dates": [(LOCAL + timedelta(days=1, minutes=-10)).isoformat()]},  # T-1 is due
}
BROKEN = {"digest": {"day": "funday"}, "pulse": {"cadence": "fortnightly"}, "qbr": {"cadence": "dates", "dates": ["soon"]}}
JOBS = {"digest": (digest_job.run, "digests"), "pulse": (feedback_job.run, None), "qbr": (qbr_job.run, "qbr")}


@pytest.mark.parametrize("kind", sorted(JOBS))
async def test_a_job_run_logs_the_bad_partner_and_serves_the_next(db, kind, caplog):
    async with db.transaction() as s:
        for slug in ("aaa", "bbb"):
            partner = Partner(slug=slug, name=slug.title(), timezone=TZ)
            s.add(partner)
            await s.flush()
            for purpose in ("digests", "qbr"):
                s.add(Route(partner_id=partner.id, purpose=purpose, platform="slack", destination=f"C0{slug}{purpose}"))
            s.add(User(platform="slack", platform_user_id=f"U0{slug}", name=slug, role=Role.PARTNER.value,
                       partner_id=partner.id, handle=f"{slug}-tl"))
            document = BROKEN[kind] if slug == "aaa" else GOOD[kind]
            s.add(PartnerPolicy(partner_id=partner.id, scope_partner=partner.id, kind=kind, document=document))
    async with db.session() as s:
        partners = {p.slug: p for p in (await s.execute(select(Partner))).scalars().all()}
    if kind == "qbr":  # the meeting was put on the schedule by an earlier run (the bad one cannot be)
        async with db.transaction() as s:
            assert len(await sync_schedule(s, partner=partners["bbb"], now=NOW)) == 1
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=ManualClock(NOW))
    run, purpose = JOBS[kind]
    with caplog.at_level(logging.ERROR):
        keys = await run(core)
    async with db.session() as s:
        rows = (await s.execute(select(OutboxItem.destination, OutboxItem.key))).all()
    to = {dest for dest, _ in rows}
    assert keys and all("aaa" not in k for k in keys), keys
    if purpose:
        assert f"C0bbb{purpose}" in to and f"C0aaa{purpose}" not in to
    else:  # the pulse invites by DM
        assert "user:U0bbb" in to and "user:U0aaa" not in to
    assert not any("aaa" in dest or "aaa" in key for dest, key in rows)
    assert any("partner aaa failed; going on with the others" in r.getMessage() for r in caplog.records)
