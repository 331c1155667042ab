"""Escalation services on a real database: outbox rows, timers with a frozen clock, numbering, measures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.core import Core
from bot.domain.access import AccessDenied
from bot.domain.escalation import TransitionRefused
from bot.services import escalations as svc
from bot.settings import Settings
from bot.store.escalations import Escalation, EscalationEvent, events_of
from bot.store.outbox import OutboxItem
from jobs import escalation_timers
from tests.escalation_world import make_world


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
async def world(db):
    return await make_world(db)


@pytest.fixture
def make_core(db, clock):
    def make() -> Core:
        return Core(db=db, settings=Settings(database_url=db.url), clock=clock)
    return make


@pytest.fixture
def make_escalation(db, world, clock):
    async def make(*, filer="acme-tl", partner="acme", severity="P2", category="quality", title="Calls dropping",
                   platform="slack"):
        return await svc.file_escalation(db, actor=world.actor(filer, platform), partner_id=world.partners[partner].id,
                                         severity=severity, category=category, title=title, now=clock.now())
    return make


async def outbox(db) -> list[OutboxItem]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxItem).order_by(OutboxItem.id))).all())


async def reload(db, esc_id: int) -> Escalation:
    async with db.session() as session:
        return await session.get(Escalation, esc_id)


def dm_targets(items: list[OutboxItem], marker: str) -> set[str]:
    return {i.destination for i in items if marker in i.key and i.destination.startswith("user:")}


async def test_file_escalation_posts_card_to_partner_routes_and_tells_level_one(db, make_escalation):
    esc = await make_escalation()
    items = await outbox(db)
    cards = {(i.platform, i.destination): i for i in items if i.key.startswith(f"{esc.card_key}@")}
    assert set(cards) == {("slack", "C0ACMEESC"), ("teams", "acme-escalations")}
    assert all(i.update_of is None and i.thread_of is None for i in cards.values())
    assert cards[("slack", "C0ACMEESC")].payload["title"] == f"{esc.ref} [P2] Calls dropping"
    # L1 is acme-tl: one DM per chat platform, not the console identity
    assert dm_targets(items, ":notify:") == {"user:U0ACME1", "user:00000000-0000-4000-8000-00000000a001"}
    filer = [i for i in items if i.key.endswith(":filer")]
    assert filer == []  # the filing form itself confirms; the filer's DMs are for later changes
    assert esc.ref == f"ESC-{esc.id}"
    assert esc.notified == ["Tomasz Nowak"]


async def test_acknowledge_updates_card_in_place_threads_history_and_dms_filer(db, world, clock, make_escalation):
    esc = await make_escalation()
    before = {i.key for i in await outbox(db)}
    clock.advance(minutes=5)
    await svc.acknowledge(db, escalation_id=esc.id, actor=world.actor("lead", "teams"), now=clock.now())
    new = [i for i in await outbox(db) if i.key not in before]
    updates = [i for i in new if i.update_of]
    threads = [i for i in new if i.thread_of]
    assert {i.update_of for i in updates} == {f"{esc.card_key}@slack:C0ACMEESC", f"{esc.card_key}@teams:acme-escalations"}
    assert {i.thread_of for i in threads} == {f"{esc.card_key}@slack:C0ACMEESC", f"{esc.card_key}@teams:acme-escalations"}
    assert all(i.key.startswith(f"{esc.card_key}:v2@") for i in updates)
    assert [i.destination for i in new if i.key.endswith(":filer")] == ["user:U0ACME1"]
    assert "Lena Lead acknowledged it" in threads[0].payload["summary"]
    row = await reload(db, esc.id)
    assert row.status == "acknowledged" and row.next_action_at is None
    events = [(e.kind, e.from_state, e.to_state, e.actor_name) for e in await _events(db, esc.id)]
    assert events == [("filed", None, "open", "Tomasz Nowak"), ("acknowledged", "open", "acknowledged", "Lena Lead")]


async def _events(db, esc_id) -> list[EscalationEvent]:
    async with db.session() as session:
        return await events_of(session, esc_id)


async def test_refused_transition_changes_nothing_and_writes_no_rows(db, world, clock, make_escalation):
    esc = await make_escalation()
    rows_before = len(await outbox(db))
    with pytest.raises(TransitionRefused):
        await svc.resolve(db, escalation_id=esc.id, actor=world.actor("lead"), note="done", now=clock.now())
    with pytest.raises(AccessDenied):
        await svc.acknowledge(db, escalation_id=esc.id, actor=world.actor("globex-tl"), now=clock.now())
    assert len(await outbox(db)) == rows_before
    assert [e.kind for e in await _events(db, esc.id)] == ["filed"]
    assert (await reload(db, esc.id)).status == "open"


async def test_resolve_without_note_is_refused(db, world, clock, make_escalation):
    esc = await make_escalation()
    await svc.acknowledge(db, escalation_id=esc.id, actor=world.actor("lead"), now=clock.now())
    with pytest.raises(ValueError, match="note"):
        await svc.resolve(db, escalation_id=esc.id, actor=world.actor("lead"), note="  ", now=clock.now())


async def test_timers_p2_reminds_then_climbs_each_level_on_time(db, world, clock, make_escalation, make_core):
    esc = await make_escalation()  # Monday 11:00 Warsaw, inside business hours
    core = make_core()
    timeline = []
    for minutes in (9, 1, 10, 10, 60, 240):
        clock.advance(minutes=minutes)
        run = await escalation_timers.run(core)
        again = await escalation_timers.run(core)  # idempotent per moment
        assert again == svc.TimerRun()
        row = await reload(db, esc.id)
        timeline.append((clock.now().strftime("%H:%M"), run.escalated != (), run.reminded != (), row.level))
    assert timeline == [
        ("10:09", False, False, 0),
        ("10:10", False, True, 0),   # L1 repeat_every 10m
        ("10:20", False, True, 0),
        ("10:30", True, False, 1),   # P2 L1 wait 30m
        ("11:30", True, False, 2),   # L2 wait 1h
        ("15:30", True, False, 3),   # L3 wait 4h (16:30 Warsaw, still business hours)
    ]
    items = await outbox(db)
    assert "user:U0ACME2" in dm_targets(items, ":event:4:notify:")  # L2 acme-am
    assert "user:U0LEAD" in dm_targets(items, ":event:5:notify:")  # L3 client lead
    top = [i for i in items if ":event:6:notify:" in i.key]
    assert {(i.platform, i.destination) for i in top} >= {("slack", "C0CXESC"), ("slack", "user:U0CXHEAD")}
    row = await reload(db, esc.id)
    assert row.next_action_at is None and row.max_level == 3


async def test_timers_p3_filed_in_quiet_hours_waits_for_business_morning(db, world, clock, make_escalation, make_core):
    clock.set(utc("2026-11-16T22:30:00+01:00"))  # Monday night in Warsaw
    esc = await make_escalation(severity="P3")
    assert dm_targets(await outbox(db), ":notify:") == set()  # nobody woken up
    row = await reload(db, esc.id)
    assert row.next_action_at == utc("2026-11-17T08:00:00+01:00")
    assert row.escalate_at == utc("2026-11-17T12:00:00+01:00")  # the 4h wait starts when L1 is told
    core = make_core()
    clock.set(utc("2026-11-17T07:59:00+01:00"))
    assert await escalation_timers.run(core) == svc.TimerRun()
    clock.set(utc("2026-11-17T08:00:00+01:00"))
    assert (await escalation_timers.run(core)).reminded == (esc.ref,)
    first = [i for i in await outbox(db) if ":notify:slack:U0ACME1" in i.key]
    assert [i.payload["title"] for i in first] == [f"Needs your attention: {esc.ref} [P3] Calls dropping"]
    filed_note = (await _events(db, esc.id))[0].note
    assert "business or quiet hours" in filed_note
    assert "people are told at 2026-11-17 08:00 (Europe/Warsaw)" in filed_note
    clock.set(utc("2026-11-17T12:00:00+01:00"))
    assert (await escalation_timers.run(core)).escalated == (esc.ref,)
    told = (await reload(db, esc.id)).notified  # L2: a person and the escalation channel, by name
    assert told and not any(t.startswith("#C0") for t in told), told


async def test_timers_p1_at_night_notifies_and_climbs_at_once(db, world, clock, make_escalation, make_core):
    clock.set(utc("2026-11-21T03:00:00+01:00"))  # Saturday 03:00 Warsaw
    esc = await make_escalation(severity="P1")
    assert "user:U0ACME1" in dm_targets(await outbox(db), ":notify:")
    core = make_core()
    clock.advance(minutes=15)
    assert (await escalation_timers.run(core)).escalated == (esc.ref,)
    clock.advance(minutes=30)
    assert (await escalation_timers.run(core)).escalated == (esc.ref,)
    assert (await reload(db, esc.id)).level == 2


async def test_timers_partner_timezone_globex_morning_is_held_until_local_opening(db, world, clock, make_escalation):
    # 10:00 UTC Monday is 07:00 in Sao Paulo: quiet until 08:00, business from 09:00 (default hours)
    esc = await make_escalation(filer="globex-tl", partner="globex", severity="P2")
    row = await reload(db, esc.id)
    assert row.next_action_at == utc("2026-11-16T09:00:00-03:00")
    assert dm_targets(await outbox(db), ":notify:") == set()


async def test_timers_auto_close_resolved_after_policy_days(db, world, clock, make_escalation, make_core):
    esc = await make_escalation()
    lead = world.actor("lead")
    await svc.acknowledge(db, escalation_id=esc.id, actor=lead, now=clock.now())
    await svc.resolve(db, escalation_id=esc.id, actor=lead, note="Staffing fixed", now=clock.now())
    core = make_core()
    clock.advance(days=7, seconds=-1)
    assert await escalation_timers.run(core) == svc.TimerRun()
    clock.advance(seconds=1)
    assert (await escalation_timers.run(core)).closed == (esc.ref,)
    row = await reload(db, esc.id)
    assert row.status == "closed" and row.next_action_at is None
    await svc.reopen(db, escalation_id=esc.id, actor=world.actor("acme-tl"), now=clock.now())
    row = await reload(db, esc.id)
    assert row.status == "open" and row.escalate_at is not None


async def test_file_escalation_concurrent_filings_get_unique_numbers(db, world, clock):
    acme = world.partners["acme"].id
    actors = [world.actor("acme-tl"), world.actor("lead"), world.actor("acme-am"), world.actor("admin")]

    async def one(i: int) -> str:
        esc = await svc.file_escalation(db, actor=actors[i % 4], partner_id=acme, severity="P4",
                                        category="other", title=f"Issue {i}", now=clock.now())
        return esc.ref

    refs = await asyncio.gather(*(one(i) for i in range(12)))
    assert len(set(refs)) == 12
    async with db.session() as session:
        assert len((await session.exec(select(Escalation))).all()) == 12
    card_keys = [i.key for i in await outbox(db) if ":card@slack" in i.key]
    assert len(card_keys) == len(set(card_keys)) == 12


async def test_data_protection_never_posted_in_channels_only_allowed_people_told(db, world, clock, make_core):
    esc = await svc.file_escalation(db, actor=world.actor("acme-tl"), partner_id=world.partners["acme"].id,
                                    severity="P1", category="data_protection", title="Agent exported customer list",
                                    now=clock.now())
    core = make_core()
    for _ in range(3):
        clock.advance(hours=2)
        await escalation_timers.run(core)
    items = await outbox(db)
    assert all(i.destination.startswith("user:") for i in items)
    told = {i.destination for i in items if ":notify:" in i.key}
    assert "user:U0ACME2" not in told  # acme-am lacks the data_protection capability
    assert {"user:U0LEAD", "user:U0CXHEAD"} <= told
    assert (await reload(db, esc.id)).level == 3


async def test_escalation_measures_by_partner_severity_category(db, world, clock, make_escalation):
    lead = world.actor("lead")
    first = await make_escalation(severity="P2")
    second = await make_escalation(severity="P2")
    await make_escalation(filer="globex-tl", partner="globex", severity="P4", category="tooling_crm")
    clock.advance(minutes=20)
    await svc.acknowledge(db, escalation_id=first.id, actor=lead, now=clock.now())
    clock.advance(minutes=40)
    await svc.acknowledge(db, escalation_id=second.id, actor=lead, now=clock.now())
    await svc.resolve(db, escalation_id=second.id, actor=lead, note="ok", now=clock.now())
    async with db.session() as session:
        measures = await svc.escalation_measures(session, start=utc("2026-11-16T00:00:00+00:00"),
                                                 end=utc("2026-11-17T00:00:00+00:00"))
        acme_only = await svc.escalation_measures(session, start=utc("2026-11-16T00:00:00+00:00"),
                                                  end=utc("2026-11-17T00:00:00+00:00"),
                                                  partner_ids=[world.partners["acme"].id], severities=["P2"])
    assert len(measures) == 3 and len(acme_only) == 2
    summary = svc.summarize_measures(acme_only)
    assert len(summary) == 1
    s = summary[0]
    assert (s.count, s.acknowledged, s.resolved) == (2, 2, 1)
    assert s.median_time_to_acknowledge == timedelta(minutes=40)  # 20m and 60m
    assert s.median_time_to_resolve == timedelta(minutes=60)
    assert s.max_levels_reached == 1


async def test_run_timers_two_runners_at_once_escalate_only_once(db, world, clock, make_escalation, make_core):
    esc = await make_escalation(severity="P1")
    clock.advance(minutes=15)
    runs = await asyncio.gather(svc.run_timers(db, now=clock.now()), svc.run_timers(db, now=clock.now()))
    assert sorted(len(r.escalated) for r in runs) == [0, 1]
    row = await reload(db, esc.id)
    assert row.level == 1
    assert [e.kind for e in await _events(db, esc.id)] == ["filed", "auto_escalated"]


async def test_acknowledge_two_people_at_once_one_wins_other_told(db, world, clock, make_escalation):
    esc = await make_escalation()
    results = await asyncio.gather(
        svc.acknowledge(db, escalation_id=esc.id, actor=world.actor("lead"), now=clock.now()),
        svc.acknowledge(db, escalation_id=esc.id, actor=world.actor("acme-am"), now=clock.now()),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, TransitionRefused)]
    assert len(refused) == 1
    assert "it is acknowledged" in str(refused[0])
    assert [e.kind for e in await _events(db, esc.id)] == ["filed", "acknowledged"]
