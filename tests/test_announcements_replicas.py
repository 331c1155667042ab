"""Two real `liaison serve` processes on one database run the announcements job at the same moment: one
reminder, one missing-sites message, each card once.

Both processes start every job at once (as after a deploy). Acme's half-way reminder and an older
announcement's deadline are due when they start; the fake Slack Web API (loopback, in the test process)
records every call the replicas make, so the counts are taken from the far side.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from bot.core import Core
from bot.domain.announcements import Audience
from bot.ports import SystemClock
from bot.services import announcements as svc
from bot.settings import Settings
from bot.store import migrate
from bot.store.announcements import Announcement, AnnouncementPartner
from bot.store.models import Route
from tests.fakes.announcement_world import make_announcement_world
from tests.fakes.serve import Replica, serve_env, wait_for
from tests.fakes.slack_api import FakeSlackApi


@pytest.mark.slow
@pytest.mark.replicas
async def test_two_serve_replicas_send_each_announcement_reminder_once(db, db_url, tmp_path):
    world = await make_announcement_world(db, bogota=False)
    async with db.transaction() as s:  # Slack only: these processes have no Teams credentials
        await s.execute(delete(Route).where(Route.platform == "teams"))
    clock = SystemClock()
    now = clock.now()
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
    lead = world.actor("lead")
    acme = world.partners["acme"].id
    current = await svc.create_announcement(core.db, actor=lead, now=now - timedelta(days=1), draft=svc.Draft(
        title="New refund screen", body="Refunds move to Cases > Refund.", category="crm_change",
        effective_at=now + timedelta(days=3), ack_deadline=now + timedelta(days=2),
        audience=Audience("partners", partner_ids=frozenset({acme}))))
    past = await svc.create_announcement(core.db, actor=lead, now=now - timedelta(days=4), draft=svc.Draft(
        title="Holiday greeting script", body="Use the new greeting.", category="procedure_change",
        effective_at=now - timedelta(days=3), ack_deadline=now - timedelta(minutes=5),
        audience=Audience("partners", partner_ids=frozenset({acme}))))
    async with db.transaction() as s:
        # the moments themselves are tested with a frozen clock; here acme's half-way reminder is simply due
        await s.execute(update(AnnouncementPartner).where(AnnouncementPartner.announcement_id == current.id)
                        .values(half_due_at=now - timedelta(minutes=1)))
        # the past one's reminders went out already; only its missing-sites message is due
        await s.execute(update(AnnouncementPartner).where(AnnouncementPartner.announcement_id == past.id)
                        .values(half_sent_at=now - timedelta(days=2), deadline_sent_at=now - timedelta(minutes=5)))
    slack = FakeSlackApi()
    await slack.start()
    replicas: list[Replica] = []
    try:
        env = serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                        SLACK_API_URL=f"{slack.base_url}api/", LIAISON_DELIVERY_INTERVAL_SECONDS="0.5",
                        LIAISON_SLACK_PACE_SECONDS="0.05")
        await asyncio.to_thread(migrate.upgrade, db_url)  # a deploy migrates once, then starts the replicas
        replicas += [Replica(env, tmp_path / f"serve-{n}.log") for n in (1, 2)]

        def posts(text: str) -> list[dict]:
            return [c.body for c in slack.of("chat.postMessage") if text in c.body.get("text", "")]

        await wait_for(lambda: posts("Reminder: AN-1") and posts("did not acknowledge"), within=90,
                        what="the reminder and the missing-sites message")
        await asyncio.sleep(5)  # time for a second copy, were there one
        (reminder,) = posts("Reminder: AN-1")
        (missing,) = posts("did not acknowledge")
        assert reminder["channel"] == "C0ACMEANNOUNCE" and reminder.get("thread_ts")
        assert "Kraków, Lisbon" in reminder["text"]
        assert missing["channel"] == "DU0LEAD" and "AN-2: 2 of 2 sites" in missing["text"]
        cards = [c.body for c in slack.of("chat.postMessage") if c.body["channel"] == "C0ACMEANNOUNCE"
                 and not c.body.get("thread_ts")]
        assert len(cards) == 2  # AN-1's card and AN-2's, once each
        assert all(r.proc.poll() is None for r in replicas)
        async with db.session() as s:
            reported = await s.get(Announcement, past.id)
        assert reported.missing_reported_at is not None
    finally:
        for replica in replicas:
            replica.ensure_dead()
        await slack.stop()
