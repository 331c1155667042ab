"""Pre-shortfall warnings over weeks with an injected clock: one per partner and day, edited when the schedule
changes, closed when the gap closes, quiet inside the margin and beyond the horizon, once across runners.

Load: 100 contacts per quarter hour at AHT 180 s is 20 Erlangs; 80/20 needs 24 on the phones, 35 scheduled
with 30% shrinkage. 30 scheduled give 21 on the phones (SL 32%), 32 give 22 (55%), 34 give 23 (70%).
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.ingest.staffing import parse_csv
from bot.services.delivery import deliver_all
from bot.services.staffing_ingest import ingest_staffing
from bot.services.staffing_warnings import warn_shortfalls
from bot.settings import Settings
from bot.store.db import Database
from bot.store.outbox import OutboxItem
from bot.store.policy import PartnerPolicy
from bot.store.staffing import StaffingWarning, WarningStatus
from tests.fakes.recording_gateway import RecordingGateway
from tests.fakes.staffing_world import make_staffing_world, rows_for_day, to_csv

THU = date(2026, 11, 19)  # the clock starts Mon 16 Nov 10:00 UTC


@pytest.fixture
def core(db, clock) -> Core:
    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url, slack_pace_seconds=0), clock=clock)


async def _send(core: Core, rows: list[dict]) -> None:
    records, errors = parse_csv(to_csv(rows))
    report = await ingest_staffing(core, records, source="test", errors=errors)
    assert report.ok, report.errors


async def _outbox(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars().all())


async def _warnings(db) -> list[StaffingWarning]:
    async with db.session() as s:
        return list((await s.execute(select(StaffingWarning).order_by(StaffingWarning.day))).scalars().all())


def _short_day(day: date, agents_short: int) -> list[dict]:
    return rows_for_day(day, agents=35, agents_at={10: agents_short, 11: agents_short, 12: agents_short})


async def test_warn_shortfalls_one_warning_then_edit_then_close_then_silence(core, db, clock):
    world = await make_staffing_world(db)
    gateways = {"slack": RecordingGateway(clock, "slack"), "teams": RecordingGateway(clock, "teams")}
    await _send(core, _short_day(THU, 30))  # the ingest runs the check itself
    items = await _outbox(db)
    assert [i.key for i in items] == [f"staffing:{world.acme.id}:2026-11-19@slack:C0ACMEALERT",
                                      f"staffing:{world.acme.id}:2026-11-19@teams:acme-alerts"]
    await deliver_all(core, gateways)
    (post,) = gateways["slack"].sent
    assert post.kind == "post"
    assert post.message.sections[0].bullets == (
        "Thu 19 Nov, voice, Kraków, 10:00-13:00 Warsaw: 30 scheduled vs 35 needed; expected SL 32% vs 80% target",)
    assert post.message.image is not None and post.message.image.png.startswith(b"\x89PNG")
    for _ in range(3):  # reruns and later hours with nothing new say nothing
        clock.advance(hours=1)
        await warn_shortfalls(core)
    assert len(await _outbox(db)) == 2

    await _send(core, rows_for_day(THU, agents=35, agents_at={10: 32, 11: 32, 12: 32}, forecast=False))
    await deliver_all(core, gateways)
    slack = gateways["slack"].sent
    assert [s.kind for s in slack] == ["post", "update", "post"]
    assert slack[1].ref == post.ref  # edited in place
    assert slack[2].thread_ref == post.ref  # the change noted in its thread
    assert "32 scheduled vs 35 needed; expected SL 55% vs 80% target" in slack[1].message.sections[0].bullets[0]

    await _send(core, rows_for_day(THU, agents=35, forecast=False))
    await deliver_all(core, gateways)
    slack = gateways["slack"].sent
    assert [s.kind for s in slack] == ["post", "update", "post", "update", "post"]
    assert slack[3].ref == post.ref and slack[3].message.title.startswith("Staffing shortfall closed")
    assert slack[4].thread_ref == post.ref
    (warning,) = await _warnings(db)
    assert (warning.status, warning.revisions) == (WarningStatus.CLOSED, 2)
    clock.advance(hours=5)
    await warn_shortfalls(core)
    assert len(await _outbox(db)) == 10  # 5 per route, nothing more
    assert len(gateways["teams"].sent) == 5


async def test_warn_shortfalls_over_four_weeks_one_warning_per_short_day_within_the_horizon(core, db, clock):
    world = await make_staffing_world(db)
    thursdays = [THU + timedelta(weeks=n) for n in range(4)]
    rows = []
    for day in thursdays:
        rows += _short_day(day, 30)
        rows += rows_for_day(day + timedelta(days=1), agents=35)  # Fridays are covered
    await _send(core, rows)
    assert sorted(w.day for w in await _warnings(db)) == ["2026-11-19", "2026-11-26"]  # 3 Dec is 17 days out
    seen_days = []
    for _ in range(4 * 7 * 4):  # every 6 hours for four weeks
        clock.advance(hours=6)
        await warn_shortfalls(core)
        seen_days = sorted(w.day for w in await _warnings(db))
    assert seen_days == [d.isoformat() for d in thursdays]
    keys = [i.key for i in await _outbox(db)]
    assert len(keys) == len(set(keys)) == 4 * 2  # one message per short day and route, never a repeat
    assert all(f"staffing:{world.acme.id}:" in k for k in keys)


async def test_warn_shortfalls_gap_inside_the_margin_stays_quiet(core, db, clock):
    world = await make_staffing_world(db)
    async with db.transaction() as s:
        s.add(PartnerPolicy(partner_id=world.acme.id, scope_partner=world.acme.id, kind="staffing",
                            document={"shrinkage": 30, "warn_days": 14, "margin": 12, "answer_within": {}}))
    await _send(core, _short_day(THU, 34))  # 70% expected vs 80%: inside a 12-point margin
    await warn_shortfalls(core)
    assert await _warnings(db) == []
    assert await _outbox(db) == []
    await _send(core, _short_day(THU, 32))  # 55%: outside it
    assert [w.day for w in await _warnings(db)] == ["2026-11-19"]


async def test_warn_shortfalls_past_spans_and_unscheduled_days_do_not_warn(core, db, clock):
    await make_staffing_world(db)
    today = date(2026, 11, 16)  # 11:00 in Warsaw: the 10:00 short interval is over
    await _send(core, rows_for_day(today, agents=35, agents_at={10: 30}))
    await _send(core, rows_for_day(THU, agents=None))  # a forecast without a schedule: nothing to compare yet
    await warn_shortfalls(core)
    assert await _warnings(db) == []


async def test_warn_shortfalls_two_runners_at_once_post_once(core, db, clock, db_url):
    await make_staffing_world(db)
    records, errors = parse_csv(to_csv(_short_day(THU, 30)))
    quiet = Core(db=db, settings=core.settings, clock=clock)
    # store without the after-ingest check, so both runners find the shortfall new
    from bot.services import staffing_ingest

    report = staffing_ingest.StaffingReport()
    await staffing_ingest._write(quiet, records, report, source="test", dry_run=False)
    others = [Database(db_url) for _ in range(2)]
    try:
        runners = [Core(db=d, settings=core.settings, clock=clock) for d in others]
        await asyncio.gather(*(warn_shortfalls(r) for r in runners))
    finally:
        for d in others:
            await d.dispose()
    assert len(await _warnings(db)) == 1
    assert len(await _outbox(db)) == 2  # one per route
    gateway = RecordingGateway(clock, "slack")
    await deliver_all(core, {"slack": gateway, "teams": RecordingGateway(clock, "teams")}, rng=random.Random(1))
    assert [s.kind for s in gateway.sent] == ["post"]
