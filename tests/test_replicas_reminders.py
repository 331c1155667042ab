"""Three real `liaison serve` replicas on one PostgreSQL start while a QBR reminder (T-1, and T-7 with its
pack), a feedback pulse round and a reverse-report reminder are due: each goes out exactly once.

Every replica runs all its jobs at start-up (as after a deploy); the test holds them at a gate
(a table lock) until all three are up, so all three find the same reminders due at the same moment. Counted on the far side: the fake Slack Web API records
every post, DM and file upload and never de-duplicates; the nudge "first seen" marks are
counted in the database. The replicas run on the wall clock moved to a Wednesday 10:00 UTC
(`LIAISON_CLOCK_OFFSET_SECONDS`, the same offset for all three), so the reverse-report nudge, which
only goes out on a client workday between 09:00 and 17:00, is due in every run whatever the day.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.domain.access import Actor, Role
from bot.services.qbr import sync_schedule
from bot.services.reports import create_report
from bot.store import migrate
from bot.store.models import Partner, Route, User
from bot.store.policy import PartnerPolicy
from bot.store.reports import ReportNudge
from tests.fakes.serve import Replica, serve_env, wait_for
from tests.fakes.slack_api import FakeSlackApi

TZ = "Europe/Berlin"
PARTNERS = ("acme", "globex", "initech")
PEOPLE = 2  # partner users (Slack identities) per partner, each invited to the pulse by DM
# the moment the replicas take as "now": a Wednesday, 11:00 in the client's Berlin (nudge hours)
REHEARSED = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.mark.slow
@pytest.mark.replicas
async def test_three_replicas_send_each_qbr_reminder_pulse_and_report_reminder_once(db, db_url, tmp_path):
    now = REHEARSED
    offset = (REHEARSED - datetime.now(UTC)).total_seconds()
    local = now.astimezone(ZoneInfo(TZ)).replace(tzinfo=None, microsecond=0)
    # meetings so that T-1 (acme) and T-7 with the pack (globex) fell due ten minutes ago, partner-local
    meetings = {"acme": local + timedelta(days=1, minutes=-10), "globex": local + timedelta(days=7, minutes=-10)}
    async with db.transaction() as s:
        s.add(PartnerPolicy(partner_id=None, scope_partner=0, kind="client",
                            document={"name": "Client", "timezone": TZ}))
        s.add(Route(partner_id=None, purpose="qbr", platform="slack", destination="C0LEADQBR"))
        s.add(Route(partner_id=None, purpose="reports", platform="slack", destination="C0LEADREP"))
        lead = User(platform="slack", platform_user_id="U0LEA", name="Lea", role=Role.CLIENT.value, handle="lea")
        s.add(lead)
        for slug in PARTNERS:
            partner = Partner(slug=slug, name=slug.title(), timezone=TZ)
            s.add(partner)
            await s.flush()
            s.add(Route(partner_id=partner.id, purpose="qbr", platform="slack", destination=f"C0{slug.upper()}QBR"))
            s.add(Route(partner_id=partner.id, purpose="reports", platform="slack", destination=f"C0{slug.upper()}REP"))
            # the monthly round opens on the 1st at 00:00 local: this month's round is due whatever today is
            s.add(PartnerPolicy(partner_id=partner.id, scope_partner=partner.id, kind="pulse",
                                document={"cadence": "monthly", "day": 1, "time": "00:00"}))
            for n in range(PEOPLE):
                s.add(User(platform="slack", platform_user_id=f"U0{slug.upper()}{n}", name=f"{slug} {n}",
                           role=Role.PARTNER.value, partner_id=partner.id, handle=f"{slug}-{n}"))
            if slug in meetings:
                s.add(PartnerPolicy(partner_id=partner.id, scope_partner=partner.id, kind="qbr",
                                    document={"cadence": "dates", "dates": [meetings[slug].isoformat()]}))
    async with db.session() as s:
        partners = {p.slug: p for p in (await s.execute(select(Partner))).scalars().all()}
        lead_id = (await s.execute(select(User.id).where(User.handle == "lea"))).scalar_one()
    async with db.transaction() as s:  # the meetings were put on the schedule by an earlier run
        for slug in meetings:
            assert len(await sync_schedule(s, partner=partners[slug], now=now)) == 1
    # a reverse report to initech a week ago, never acknowledged: its reminder (2 business days) is due;
    # its card and client copy are still in the outbox, so the replicas deliver them too
    lea = Actor(platform="slack", platform_user_id="U0LEA", role=Role.CLIENT, user_id=lead_id, name="Lea")
    await create_report(db, actor=lea, partner=partners["initech"], kind="lead_quality", rating=2,
                        text="Leads from the spring campaign were not qualified", link="", now=now - timedelta(days=7))
    async with db.transaction() as s:
        # lea last heard about acme's reports long ago: a nudge is due when the client's clock is in nudge hours
        s.add(ReportNudge(handle="lea", partner_id=partners["acme"].id, sent_at=now - timedelta(days=15)))
    await asyncio.to_thread(migrate.upgrade, db_url)
    slack = FakeSlackApi()
    await slack.start()
    env = serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                    SLACK_API_URL=f"{slack.base_url}api/", LIAISON_DELIVERY_INTERVAL_SECONDS="0.3",
                    LIAISON_SLACK_PACE_SECONDS="0.05", LIAISON_CLOCK_OFFSET_SECONDS=str(offset))
    replicas = [Replica(env, tmp_path / f"serve-{n}.log") for n in range(3)]
    try:
        # hold every replica's first run at the gate until all three are up, so their jobs start together
        # (a table lock the test holds; the jobs read these tables first): a run that is not
        # serialized between replicas then overlaps another instead of finding its marks
        async with db.transaction() as gate:
            await gate.execute(text("LOCK TABLE partner, reversereport IN ACCESS EXCLUSIVE MODE"))
            async with aiohttp.ClientSession() as http:
                for replica in replicas:
                    await replica.ready(http)
            await asyncio.sleep(1)  # every replica's scheduler has fired its start-up runs by now

        def posts() -> Counter:
            return Counter(c.body["channel"] for c in slack.of("chat.postMessage"))

        def files() -> Counter:
            return Counter(c.body.get("channel_id") or c.body.get("channels")
                           for c in slack.of("files.completeUploadExternal"))

        qbr = {"C0ACMEQBR": 1, "C0GLOBEXQBR": 1, "C0LEADQBR": 2}  # T-1 and T-7 to each side
        pulse = {f"DU0{slug.upper()}{n}": 1 for slug in PARTNERS for n in range(PEOPLE)}  # one invite DM each
        report = {"C0INITECHREP": 2, "C0LEADREP": 1}  # the card and its threaded reminder; the client's copy
        nudge = {"DU0LEA": 1}
        expected = qbr | pulse | report | nudge
        expected_files = {"C0GLOBEXQBR": 1, "C0LEADQBR": 1}  # the QBR pack, attached to the T-7 reminder
        await wait_for(lambda: sum(posts().values()) >= sum(expected.values())
                       and sum(files().values()) >= sum(expected_files.values()), within=60, what="every reminder")
        await asyncio.sleep(3)  # ten delivery ticks more (and the jobs' second pass): time for a copy, were there one
        posted, uploaded = posts(), files()

        kinds = {ch: k for k, part in (("qbr", qbr), ("pulse", pulse), ("report", report), ("nudge", {"DU0LEA": 1}))
                 for ch in part}

        def by_kind(counts: Counter | dict) -> dict[str, int]:
            out: Counter = Counter()
            for channel, n in counts.items():
                out[kinds.get(channel, "other")] += n
            return dict(out)

        print(f"3 replicas, reminders due: expected {by_kind(expected)} posts + {sum(expected_files.values())} pack files, "
              f"posted {by_kind(posted)} + {sum(uploaded.values())} files; by channel {dict(posted)}")
        assert posted == expected
        min_gap, busiest = slack.pace()  # the fake's own arrival times, across all three replicas
        print(f"  smallest gap between two posts to one channel {min_gap:.3f} s (pace 0.05 s), "
              f"most posts to one channel in one second {busiest}")
        assert min_gap >= 0.05 and busiest <= 20
        assert uploaded == expected_files
        async with db.session() as s:  # "first seen" nudge marks: one per (client manager, partner) with no mark
            marks = dict((await s.execute(select(ReportNudge.partner_id, func.count()).where(ReportNudge.handle == "lea")
                                          .group_by(ReportNudge.partner_id))).all())
        assert marks == {partners["acme"].id: 2, partners["globex"].id: 1}
        assert all(r.proc.poll() is None for r in replicas)
        assert [r.stop() for r in replicas] == [0, 0, 0]
    finally:
        for replica in replicas:
            replica.ensure_dead()
        await slack.stop()
