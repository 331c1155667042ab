"""Two real `liaison serve` processes on one database run the shortfall job at the same moment: one warning.

Both processes start every job at once (as after a deploy), so both plan acme's next days and find the
same short day. The fake Slack Web API (loopback, in the test process) records every call the replicas
make, so the count is taken from the far side.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from bot.core import Core
from bot.ingest.staffing import parse_csv
from bot.ports import SystemClock
from bot.services import staffing_ingest
from bot.settings import Settings
from bot.store import migrate
from bot.store.models import Route
from bot.store.outbox import OutboxItem
from bot.store.staffing import StaffingWarning
from tests.fakes.serve import Replica, serve_env, wait_for
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.staffing_world import ACME_TZ, make_staffing_world, rows_for_day, to_csv


@pytest.mark.slow
@pytest.mark.replicas
async def test_two_serve_replicas_post_one_shortfall_warning(db, db_url, tmp_path):
    await make_staffing_world(db)
    async with db.transaction() as s:  # Slack only: these processes have no Teams credentials
        await s.execute(delete(Route).where(Route.platform == "teams"))
    clock = SystemClock()
    day = clock.now().astimezone(ZoneInfo(ACME_TZ)).date() + timedelta(days=3)
    records, errors = parse_csv(to_csv(rows_for_day(day, agents=35, agents_at={10: 30, 11: 30, 12: 30})))
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
    report = staffing_ingest.StaffingReport()
    # stored without the after-ingest check, so the replicas are the first to see the shortfall
    await staffing_ingest._write(core, records, report, source="test", dry_run=False)
    assert not errors and not report.errors
    slack = FakeSlackApi()
    await slack.start()
    procs = []
    try:
        env = serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                        SLACK_API_URL=f"{slack.base_url}api/", LIAISON_DELIVERY_INTERVAL_SECONDS="0.5",
                        LIAISON_SLACK_PACE_SECONDS="0.05")
        # a deploy migrates once, then starts the replicas (two replicas stamping at once collide)
        await asyncio.to_thread(migrate.upgrade, db_url)
        replicas = [Replica(env, tmp_path / f"serve-{n}.log") for n in (1, 2)]
        procs += replicas

        def warnings() -> list[dict]:
            return [c.body for c in slack.of("chat.postMessage") if "Staffing shortfall ahead" in c.body.get("text", "")]

        await wait_for(lambda: bool(warnings()), within=90, what="the shortfall warning")
        await asyncio.sleep(5)  # time for a second copy, were there one
        (posted,) = warnings()
        assert posted["channel"] == "C0ACMEALERT" and "30 scheduled vs 35 needed" in posted["text"]
        assert len(slack.of("files.completeUploadExternal")) == 1  # its chart, once
        async with db.session() as s:
            assert (await s.execute(select(func.count()).select_from(StaffingWarning))).scalar_one() == 1
            keys = (await s.execute(select(OutboxItem.key).where(OutboxItem.key.like("staffing:%")))).scalars().all()
        assert len(keys) == 1
        assert all(r.proc.poll() is None for r in replicas)
    finally:
        for replica in procs:
            replica.ensure_dead()
        await slack.stop()
