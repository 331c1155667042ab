"""Breach episodes from hand-made data: open, follow up, recover, reopen; edges and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.services.delivery import deliver_due
from bot.services.evaluation import evaluate
from bot.settings import Settings
from bot.store.alerts import BreachEpisode, EpisodeStatus, PreBreachWarning
from bot.store.models import Measurement, Partner, Route, Target
from bot.store.outbox import OutboxItem
from tests.fakes.recording_gateway import RecordingGateway


@pytest.fixture
def core(db, clock) -> Core:
    return Core(db=db, settings=Settings(database_url=db.url, slack_pace_seconds=0, followup_hours=4), clock=clock)


@pytest.fixture
def make_partner(db):
    async def make(slug: str = "acme", tz: str = "Europe/Berlin", *, routes: bool = True) -> Partner:
        async with db.transaction() as s:
            p = Partner(slug=slug, name=slug.title(), timezone=tz)
            s.add(p)
            await s.flush()
            if routes:
                s.add(Route(partner_id=p.id, purpose="alerts", platform="slack", destination=f"C0{slug.upper()}ALERT"))
                if not (await s.execute(select(Route).where(Route.partner_id.is_(None)))).first():
                    s.add(Route(partner_id=None, purpose="escalations", platform="slack", destination="C0CLIENTESC"))
        return p
    return make


@pytest.fixture
def make_target(db):
    async def make(partner: Partner, *, metric: str = "service_level", comparator: str = ">=",
                   value: float = 80.0, window: str = "day", min_volume: float = 100,
                   critical_margin: float | None = 15.0, channel: str | None = "voice") -> Target:
        async with db.transaction() as s:
            t = Target(partner_id=partner.id, key=f"{metric}-{window}-{comparator}", metric=metric,
                       comparator=comparator, target_value=value, window=window, min_volume=min_volume,
                       critical_margin=critical_margin, channel=channel)
            s.add(t)
        return t
    return make


@pytest.fixture
def add_parts(db):
    async def add(partner: Partner, start: datetime, minutes: int, num: float, den: float, *,
                  metric: str = "service_level", channel: str = "voice") -> None:
        async with db.transaction() as s:
            s.add(Measurement(partner_id=partner.id, channel=channel, metric=metric,
                              period_start=start.astimezone(UTC),
                              period_end=(start + timedelta(minutes=minutes)).astimezone(UTC),
                              num=num, den=den, ingested_at=start.astimezone(UTC)))
    return add


async def _episodes(db) -> list[BreachEpisode]:
    async with db.session() as s:
        return list((await s.execute(select(BreachEpisode).order_by(BreachEpisode.id))).scalars().all())


async def _keys(db) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(select(OutboxItem.key).order_by(OutboxItem.id))).scalars().all())


BERLIN = ZoneInfo("Europe/Berlin")


def _day(d: int) -> datetime:
    return datetime(2026, 11, d, tzinfo=BERLIN)


async def test_evaluate_breach_followup_recover_breach_again_gives_two_episodes(
        db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme)
    gw = RecordingGateway(clock)
    # day 16: 70% (breach), 17: 60%, 18: 75%, 19: 85% (ok), 20: 50% (breach, critical)
    for day, num in ((16, 700), (17, 600), (18, 750), (19, 850), (20, 500)):
        await add_parts(acme, _day(day), 1440, num, 1000)
    for day in range(17, 22):
        clock.set(_day(day) + timedelta(minutes=30))
        await evaluate(core)
        await deliver_due(core, {"slack": gw})

    first, second = await _episodes(db)
    assert first.status == EpisodeStatus.RECOVERED and first.windows_breached == 3
    assert first.opened_at == _day(16) and first.recovered_at == _day(19)
    assert first.worst_value == pytest.approx(60.0) and not first.critical
    assert second.status == EpisodeStatus.OPEN and second.opened_at == _day(20) and second.critical
    a = "@slack:C0ACMEALERT"
    assert await _keys(db) == [
        f"breach:1{a}",
        f"breach:1:followup:1{a}", f"breach:1:update:1{a}",
        f"breach:1:followup:2{a}", f"breach:1:update:2{a}",
        f"breach:1:recovered{a}", f"breach:1:resolved{a}",
        f"breach:2{a}", "breach:2:client@slack:C0CLIENTESC",
    ]
    posts = gw.posts_to("C0ACMEALERT")
    alert = posts[0]
    assert alert.kind == "post" and alert.thread_ref is None
    assert "Service level 70.0%" in alert.message.title
    kpi = alert.message.sections[0].kpis[0]
    assert kpi.note == "700 of 1,000 answered within threshold"
    followups = [p for p in posts if p.kind == "post" and p.thread_ref == alert.ref]
    assert [p.message.title.split(":")[0] for p in followups] == ["Still breaching", "Still breaching", "Resolved"]
    updates = [p for p in gw.sent if p.kind == "update"]
    assert [u.ref for u in updates] == [alert.ref] * 3
    assert updates[-1].message.title.startswith("Resolved") and "Breach lasted 3 d" in updates[-1].message.summary
    assert gw.posts_to("C0CLIENTESC")[0].message.severity == "critical"


async def test_evaluate_followups_wait_the_configured_hours(db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, window="hour", critical_margin=None)
    start = datetime(2026, 11, 16, 8, tzinfo=BERLIN)
    for h in range(6):
        await add_parts(acme, start + timedelta(hours=h), 60, 10, 200)
    for h in range(1, 7):
        clock.set(start + timedelta(hours=h, minutes=5))
        await evaluate(core)
    keys = await _keys(db)
    # opened at hour 0 (announced at 09:05); next follow-up only 4 h later (13:05)
    assert [k for k in keys if "followup" in k] == ["breach:1:followup:1@slack:C0ACMEALERT"]
    (ep,) = await _episodes(db)
    assert ep.windows_breached == 6


@pytest.mark.parametrize(("metric", "comparator", "target", "num", "den"), [
    ("service_level", ">=", 80.0, 800, 1000),  # exactly 80.0%
    ("asa", "<=", 30.0, 30_000, 1000),  # exactly 30 s
])
async def test_evaluate_exactly_at_target_is_no_breach(db, core, clock, make_partner, make_target, add_parts,
                                                       metric, comparator, target, num, den):
    acme = await make_partner()
    await make_target(acme, metric=metric, comparator=comparator, value=target)
    await add_parts(acme, _day(16), 1440, num, den, metric=metric)
    clock.set(_day(17) + timedelta(hours=1))
    report = await evaluate(core)
    assert report.windows == 1 and await _episodes(db) == []
    await add_parts(acme, _day(17), 1440, num + (-1 if comparator == ">=" else 1), den, metric=metric)
    clock.set(_day(18) + timedelta(hours=1))
    await evaluate(core)
    assert len(await _episodes(db)) == 1  # one unit past the line breaches


async def test_evaluate_insufficient_volume_never_breaches(db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, min_volume=100)
    await add_parts(acme, _day(16), 1440, 0, 3)  # 0 of 3 calls
    clock.set(_day(17) + timedelta(hours=1))
    report = await evaluate(core)
    assert report.windows == 1 and await _episodes(db) == [] and await _keys(db) == []


@pytest.mark.parametrize(("bad_at_utc", "breaches"), [
    (datetime(2026, 10, 25, 22, 30, tzinfo=UTC), True),  # Sun 23:30 CET: last hour of the 169-h week
    (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), False),  # Mon 00:00 CET: the next week
])
async def test_evaluate_week_with_berlin_dst_change_has_local_edges(
        db, core, clock, make_partner, make_target, add_parts, bad_at_utc, breaches):
    acme = await make_partner()
    await make_target(acme, window="week", critical_margin=None)
    week_start = datetime(2026, 10, 19, tzinfo=BERLIN)  # W43; clocks go back on Sun Oct 25
    assert datetime(2026, 10, 26, tzinfo=BERLIN).astimezone(UTC) - week_start.astimezone(UTC) == timedelta(hours=169)
    await add_parts(acme, week_start, 60 * 24 * 6, 900, 1000)
    await add_parts(acme, bad_at_utc, 15, 0, 5000)
    clock.set(datetime(2026, 10, 27, 9, tzinfo=UTC))
    await evaluate(core)
    episodes = await _episodes(db)
    assert bool(episodes) is breaches
    if breaches:
        assert episodes[0].opened_at == week_start.astimezone(UTC) == datetime(2026, 10, 18, 22, tzinfo=UTC)
        assert episodes[0].last_violating_end == datetime(2026, 10, 25, 23, tzinfo=UTC)


async def test_evaluate_sao_paulo_and_manila_days_cut_at_their_own_midnight(
        db, core, clock, make_partner, make_target, add_parts):
    globex = await make_partner("globex", "America/Sao_Paulo")
    northwind = await make_partner("northwind", "Asia/Manila")
    for p in (globex, northwind):
        await make_target(p, critical_margin=None)
        hour = datetime(2026, 11, 13, tzinfo=UTC)
        while hour < datetime(2026, 11, 18, tzinfo=UTC):
            await add_parts(p, hour, 60, 95, 100)
            hour += timedelta(hours=1)
        await add_parts(p, datetime(2026, 11, 16, 2, 30, tzinfo=UTC), 15, 0, 2000)  # one instant, two local days
    clock.set(datetime(2026, 11, 18, 12, tzinfo=UTC))
    await evaluate(core, since=datetime(2026, 11, 14, 12, tzinfo=UTC))
    by_partner = {e.partner_id: e for e in await _episodes(db)}
    sp, mnl = by_partner[globex.id], by_partner[northwind.id]
    # 02:30 UTC is Sun Nov 15 23:30 in Sao Paulo but Mon Nov 16 10:30 in Manila
    assert sp.opened_at == datetime(2026, 11, 15, 3, tzinfo=UTC) and sp.recovered_at == datetime(2026, 11, 16, 3, tzinfo=UTC)
    assert mnl.opened_at == datetime(2026, 11, 15, 16, tzinfo=UTC) and mnl.recovered_at == datetime(2026, 11, 16, 16, tzinfo=UTC)


async def test_evaluate_incremental_run_judges_only_new_windows(db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, window="hour")
    start = datetime(2026, 11, 16, 0, tzinfo=BERLIN)
    for h in range(48):
        await add_parts(acme, start + timedelta(hours=h), 60, 90, 100)
    clock.set(start + timedelta(hours=24, minutes=5))
    await evaluate(core, since=start)
    clock.set(start + timedelta(hours=48, minutes=5))
    report = await evaluate(core)
    assert report.windows == 24  # only the hours after the mark
    again = await evaluate(core)
    assert again.windows == 0


async def test_evaluate_running_day_projected_to_miss_warns_once(db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, min_volume=400)
    await add_parts(acme, _day(16), 60 * 10, 100, 200)  # 50% over the first 10 h, volume on course for 480
    clock.set(_day(16) + timedelta(hours=10))
    await evaluate(core)
    await evaluate(core)
    async with db.session() as s:
        assert len((await s.execute(select(PreBreachWarning))).all()) == 1
    assert await _keys(db) == ["prebreach:1:20261115T2300@slack:C0ACMEALERT"]


async def test_evaluate_rerun_over_judged_days_adds_no_episode_or_message(
        db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, critical_margin=None)
    await add_parts(acme, _day(16), 1440, 500, 1000)
    await add_parts(acme, _day(17), 1440, 900, 1000)
    clock.set(_day(18) + timedelta(hours=1))
    await evaluate(core, since=_day(16))
    before = await _keys(db)
    await evaluate(core, since=_day(15))  # late data for older days triggers a re-run
    assert len(await _episodes(db)) == 1 and await _keys(db) == before


async def test_evaluate_backfill_of_old_history_records_episodes_without_messages(
        db, core, clock, make_partner, make_target, add_parts):
    acme = await make_partner()
    await make_target(acme, critical_margin=None)
    for day in range(1, 16):
        await add_parts(acme, _day(day), 1440, 500 if day % 3 == 0 else 900, 1000)
    clock.set(_day(16) + timedelta(hours=1))  # day 15 breached and is the newest complete day
    await evaluate(core, since=_day(1))
    episodes = await _episodes(db)
    assert len(episodes) == 5 and [e.status for e in episodes].count(EpisodeStatus.OPEN) == 1
    # only the episode still open in the newest windows is announced
    assert await _keys(db) == [f"breach:{episodes[-1].id}@slack:C0ACMEALERT"]


async def test_ingest_and_scheduler_judging_one_target_at_once_open_one_episode(
        db, core, clock, make_partner, make_target, add_parts):
    """Two evaluators (each on its own engine, like two replicas) judge the same new day together."""
    import asyncio

    from bot.services.ingest import IngestReport, _evaluate_after_ingest
    from bot.store.db import Database

    acme = await make_partner()
    await make_target(acme)
    await add_parts(acme, _day(15), 1440, 900, 1000)  # judged before: the target has its mark
    clock.set(_day(16) + timedelta(minutes=30))
    await evaluate(core)
    await add_parts(acme, _day(16), 1440, 600, 1000)  # the new day, 60%: a critical breach
    clock.set(_day(17) + timedelta(minutes=30))
    other = Database(db.url)
    try:
        scheduler = Core(db=other, settings=core.settings, clock=clock)
        ingest = IngestReport(partner_ids={acme.id}, earliest=_day(16))
        for _ in range(3):  # every round at the same moment; later rounds find nothing new
            await asyncio.gather(_evaluate_after_ingest(core, ingest), evaluate(scheduler))
    finally:
        await other.dispose()
    (episode,) = await _episodes(db)
    assert episode.status == EpisodeStatus.OPEN and episode.critical
    keys = await _keys(db)
    assert keys == [f"breach:{episode.id}@slack:C0ACMEALERT", f"breach:{episode.id}:client@slack:C0CLIENTESC"]


async def test_database_refuses_a_second_open_episode_for_one_target(db, make_partner, make_target):
    from sqlalchemy.exc import IntegrityError

    acme = await make_partner()
    target = await make_target(acme)

    def episode() -> BreachEpisode:
        return BreachEpisode(target_id=target.id, partner_id=acme.id, opened_at=_day(16), last_violating_start=_day(16),
                             last_violating_end=_day(17), worst_value=60, last_value=60, created_at=_day(17))
    async with db.transaction() as s:
        s.add(episode())
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(episode())
    async with db.transaction() as s:  # a recovered one beside the open one is fine
        recovered = episode()
        recovered.status = EpisodeStatus.RECOVERED
        s.add(recovered)
    assert len(await _episodes(db)) == 2


async def _statements_of_one_run(db, core) -> int:
    from sqlalchemy import event

    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await evaluate(core)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return len(seen)


async def test_evaluate_a_quiet_day_costs_the_same_statements_for_1_or_9_targets(
        db, core, clock, make_partner, make_target, add_parts):
    # Counted at the driver: the common path is set-based, not one transaction per target.
    counts = []
    for n in (1, 8):
        for i in range(n):
            p = await make_partner(f"p{n}x{i}")
            await make_target(p)
            await add_parts(p, _day(16), 1440, 900, 1000)
        clock.set(_day(17) + timedelta(hours=1))
        counts.append(await _statements_of_one_run(db, core))
        async with db.session() as s:
            assert len((await s.execute(select(BreachEpisode))).all()) == 0
    assert counts[0] == counts[1]


async def test_evaluate_one_bad_target_does_not_stop_the_others(db, core, clock, make_partner, make_target,
                                                                 add_parts):
    acme = await make_partner()
    await make_target(acme)
    broken = await make_partner("broken")
    await make_target(broken, metric="metric_gone_from_the_catalogue")  # e.g. removed by an upgrade
    await add_parts(acme, _day(16), 1440, 500, 1000)
    clock.set(_day(17) + timedelta(hours=1))
    report = await evaluate(core)
    assert report.failed == 1 and report.opened == 1
    assert await _keys(db) == ["breach:1@slack:C0ACMEALERT", "breach:1:client@slack:C0CLIENTESC"]


async def test_evaluate_two_evaluators_at_once_announce_once(db, core, clock, make_partner, make_target, add_parts):
    import asyncio

    for slug in ("acme", "zeta"):
        p = await make_partner(slug)
        await make_target(p)
        await add_parts(p, _day(16), 1440, 500, 1000)
    clock.set(_day(17) + timedelta(hours=1))
    reports = await asyncio.gather(evaluate(core), evaluate(core), evaluate(core))
    assert sum(r.opened for r in reports) == 2 and sum(r.failed for r in reports) == 0
    keys = await _keys(db)
    assert len(keys) == len(set(keys)) == 4
    assert len(await _episodes(db)) == 2


async def test_evaluate_zones_sharing_an_instant_keep_their_own_days_after_a_dst_change(
        db, core, clock, make_partner, make_target, add_parts):
    # Berlin and Lagos days start at the same instant in winter; after 29 March Berlin's days move an hour.
    berlin = await make_partner("berlin", "Europe/Berlin")
    await make_target(berlin)
    lagos = await make_partner("lagos", "Africa/Lagos")
    await make_target(lagos)
    await add_parts(lagos, datetime(2026, 3, 31, 22, 30, tzinfo=UTC), 15, 500, 1000)  # 23:30 in Lagos
    clock.set(datetime(2026, 4, 2, 12, tzinfo=UTC))
    await evaluate(core, since=datetime(2026, 3, 20, tzinfo=ZoneInfo("Africa/Lagos")))
    (episode,) = await _episodes(db)
    assert episode.partner_id == lagos.id
    assert episode.opened_at == datetime(2026, 3, 30, 23, tzinfo=UTC)  # Lagos midnight, 31 March
