"""Three real `liaison serve` replicas on one PostgreSQL judge the same new day: each breach alerted once,
each weekly digest (partners' and the portfolio one, falling due today) sent once.

Every replica starts all its jobs at once (as after a deploy), so all three evaluate the same
targets at the same moment. The targets were judged before (they have marks), a new day of
data is stored and left for the replicas. Counted on the far side: the fake Slack Web API
records every post and never de-duplicates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.config.schema import DigestSchedule
from bot.core import Core
from bot.ports import ManualClock
from bot.services.evaluation import evaluate
from bot.settings import Settings
from bot.store import migrate
from bot.store.alerts import BreachEpisode
from bot.store.models import Measurement, Partner, Route, Target
from bot.store.policy import PartnerPolicy
from jobs.digest import DAYS
from tests.fakes.serve import Replica, serve_env, wait_for
from tests.fakes.slack_api import FakeSlackApi

PARTNERS = ("acme", "globex", "initech", "umbrella", "hooli")
TZ = ZoneInfo("Europe/Berlin")


@pytest.mark.slow
@pytest.mark.replicas
async def test_three_replicas_judging_one_new_day_alert_each_breach_once(db, db_url, tmp_path):
    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    # the digests fall due today at 00:00 local, so the replicas find them due as they start
    due = DigestSchedule(day=DAYS[today.weekday()], time=time(0, 0)).model_dump(mode="json")
    async with db.transaction() as s:
        s.add(Route(partner_id=None, purpose="escalations", platform="slack", destination="C0CLIENTESC"))
        s.add(Route(partner_id=None, purpose="digests", platform="slack", destination="C0PORTFOLIO"))
        s.add(PartnerPolicy(partner_id=None, scope_partner=0, kind="digest", document=due))
        for slug in PARTNERS:
            partner = Partner(slug=slug, name=slug.title(), timezone="Europe/Berlin")
            s.add(partner)
            await s.flush()
            s.add(Route(partner_id=partner.id, purpose="alerts", platform="slack", destination=f"C0{slug.upper()}"))
            s.add(Route(partner_id=partner.id, purpose="digests", platform="slack", destination=f"C0{slug.upper()}DIG"))
            s.add(PartnerPolicy(partner_id=partner.id, scope_partner=partner.id, kind="digest", document=due))
            s.add(Target(partner_id=partner.id, key="sl-day", metric="service_level", comparator=">=",
                         target_value=80.0, window="day", min_volume=100, critical_margin=15.0, channel="voice"))
            s.add(_day(partner.id, before, 900))  # on target: judged below, so every target has a mark
    # the day before was judged already (by some earlier run)
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url),
                clock=ManualClock(yesterday.astimezone(UTC) + timedelta(hours=1)))
    assert (await evaluate(core)).opened == 0
    async with db.transaction() as s:  # the new day: every partner at 60%, a critical breach
        for partner in (await s.execute(select(Partner))).scalars().all():
            s.add(_day(partner.id, yesterday, 600))
    await asyncio.to_thread(migrate.upgrade, db_url)
    slack = FakeSlackApi()
    await slack.start()
    env = serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                    SLACK_API_URL=f"{slack.base_url}api/", LIAISON_DELIVERY_INTERVAL_SECONDS="0.3",
                    LIAISON_SLACK_PACE_SECONDS="0.05")
    replicas = [Replica(env, tmp_path / f"serve-{n}.log") for n in range(3)]
    try:
        async with aiohttp.ClientSession() as http:
            for replica in replicas:
                await replica.ready(http)

        def alerts() -> Counter:
            return Counter(c.body["channel"] for c in slack.of("chat.postMessage"))

        expected = ({f"C0{slug.upper()}": 1 for slug in PARTNERS} | {"C0CLIENTESC": len(PARTNERS)}
                    | {f"C0{slug.upper()}DIG": 1 for slug in PARTNERS} | {"C0PORTFOLIO": 1})
        await wait_for(lambda: sum(alerts().values()) >= sum(expected.values()), within=90, what="every alert")
        await asyncio.sleep(3)  # ten delivery ticks more: time for a copy, were there one
        posted = alerts()
        print(f"3 replicas judging one day: expected {sum(expected.values())} alerts and digests, posted {sum(posted.values())}, "
              f"by channel {dict(posted)}")
        assert posted == expected
        min_gap, busiest = slack.pace()  # the fake's own arrival times, across all three replicas
        print(f"  smallest gap between two posts to one channel {min_gap:.3f} s (pace 0.05 s), "
              f"most posts to one channel in one second {busiest}")
        assert min_gap >= 0.05 and busiest <= 20
        async with db.session() as s:
            assert (await s.execute(select(func.count()).select_from(BreachEpisode))).scalar_one() == len(PARTNERS)
        assert all(r.proc.poll() is None for r in replicas)
        assert [r.stop() for r in replicas] == [0, 0, 0]
    finally:
        for replica in replicas:
            replica.ensure_dead()
        await slack.stop()


def _day(partner_id: int, start: datetime, answered: int) -> Measurement:
    return Measurement(partner_id=partner_id, channel="voice", metric="service_level",
                       period_start=start.astimezone(UTC), period_end=(start + timedelta(days=1)).astimezone(UTC),
                       num=answered, den=1000, ingested_at=start.astimezone(UTC))
