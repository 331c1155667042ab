"""The outbox and its delivery worker: idempotent enqueue, retries, Retry-After, dead letters."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions import ActionId, FormId
from bot.core import Core
from bot.messages import (
    Action,
    Fact,
    Form,
    FormField,
    Image,
    KpiRow,
    Message,
    Section,
    Severity,
    Status,
)
from bot.messages_codec import message_from_dict, message_to_dict
from bot.ports import DeliveryError
from bot.services import outbox
from bot.services.delivery import _hold_destination, deliver_due
from bot.settings import Settings
from bot.store.models import Partner, Route
from bot.store.outbox import OutboxItem, OutboxStatus
from tests.fakes.recording_gateway import RecordingGateway


@pytest.fixture
def make_core(db, clock):
    def make(**settings) -> Core:
        return Core(db=db, settings=Settings(database_url=db.url, slack_pace_seconds=0, **settings), clock=clock)
    return make


@pytest.fixture
def frozen_sleep(clock):
    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
    return sleep


def _msg(title: str = "Hello") -> Message:
    return Message(title=title, summary="body", ephemeral=False)


async def _items(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars().all())


def test_codec_round_trip_keeps_enums_images_and_forms():
    message = Message(
        title="T", severity=Severity.CRITICAL,
        sections=(Section(heading="h", facts=(Fact("a", "b", Status.BREACH),),
                          kpis=(KpiRow("service_level", "SL", "70%", "80%", Status.BREACH, note="7 of 10"),)),),
        actions=(Action(ActionId.BREACH_ACKNOWLEDGE, "Ack", value="breach:1"),),
        image=Image(alt="chart", png=b"\x89PNG\x00\x01"),
    )
    back = message_from_dict(message_to_dict(message))
    assert back == message
    assert back.severity is Severity.CRITICAL and back.actions[0].id is ActionId.BREACH_ACKNOWLEDGE
    with_form = Message(title="F", sections=(Section(text="x"),))
    assert message_from_dict(message_to_dict(with_form)) == with_form
    form = Form(id=FormId.FEEDBACK, title="F", fields=(FormField("x", "X"),))
    assert message_to_dict(Message(title="x"))["_type"] == "Message"
    from bot.messages_codec import _decode, _encode  # forms ride in the same codec

    assert _decode(_encode(form)) == form


async def test_enqueue_same_key_twice_keeps_one_row(db, clock):
    async with db.transaction() as s:
        a = await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="k1", now=clock.now())
    async with db.transaction() as s:
        b = await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("other"), key="k1", now=clock.now())
    assert a.id == b.id
    rows = await _items(db)
    assert len(rows) == 1 and rows[0].payload["title"] == "Hello"


async def test_enqueue_rolled_back_transaction_leaves_nothing(db, clock):
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="k1", now=clock.now())
            raise RuntimeError("state change failed")
    assert await _items(db) == []


async def test_enqueue_to_route_one_row_per_route_with_mapped_thread_keys(db, clock):
    async with db.transaction() as s:
        p = Partner(slug="acme", name="Acme", timezone="Europe/Warsaw")
        s.add(p)
        await s.flush()
        s.add_all([Route(partner_id=p.id, purpose="alerts", platform="slack", destination="C0ACMEALERT"),
                   Route(partner_id=p.id, purpose="alerts", platform="teams", destination="conv-acme"),
                   Route(partner_id=p.id, purpose="digests", platform="slack", destination="C0DIGEST")])
        await s.flush()
        first = await outbox.enqueue_to_route(s, partner_id=p.id, purpose="alerts", message=_msg(), key="a", now=clock.now())
        reply = await outbox.enqueue_to_route(s, partner_id=p.id, purpose="alerts", message=_msg(), key="b",
                                              now=clock.now(), thread_of="a")
    assert {i.destination for i in first} == {"C0ACMEALERT", "conv-acme"}
    by_dest = {i.destination: i for i in first}
    for r in reply:
        assert r.thread_of == by_dest[r.destination].key


async def test_deliver_due_posts_then_threads_and_updates_by_ref(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("alert"), key="a", now=clock.now())
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("still"), key="b",
                             now=clock.now(), thread_of="a")
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("resolved"), key="c",
                             now=clock.now(), update_of="a")
        await outbox.enqueue(s, platform="slack", destination="user:U1", message=_msg("dm"), key="d", now=clock.now())
    report = await deliver_due(core, {"slack": gw})
    assert report.sent == 4
    kinds = [(x.kind, x.message.title, x.thread_ref) for x in gw.sent]
    assert ("post", "alert", None) in kinds
    assert ("post", "still", "C1:1") in kinds
    assert ("update", "resolved", None) in kinds
    assert ("direct", "dm", None) in kinds
    assert all(i.status == OutboxStatus.SENT and i.ref for i in await _items(db))
    assert (await deliver_due(core, {"slack": gw})).claimed == 0


async def test_deliver_due_retry_after_waits_the_asked_time(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    gw.fail_next(DeliveryError("ratelimited", retryable=True, retry_after=30))
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="a", now=clock.now())
    first = await deliver_due(core, {"slack": gw})
    assert first.retried == 1 and gw.sent == []
    clock.advance(seconds=29)
    assert (await deliver_due(core, {"slack": gw})).claimed == 0
    clock.advance(seconds=1)
    assert (await deliver_due(core, {"slack": gw})).sent == 1
    assert (gw.attempts[1] - gw.attempts[0]).total_seconds() == 30


async def test_deliver_due_retryable_errors_back_off_exponentially(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    gw.fail_next(*[DeliveryError("500", retryable=True) for _ in range(4)])
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="a", now=clock.now())
    waits = []
    rng = random.Random(7)
    while not gw.sent:
        await deliver_due(core, {"slack": gw}, rng=rng)
        (item,) = await _items(db)
        if item.status == OutboxStatus.SENT:
            break
        wait = (item.next_attempt_at - clock.now()).total_seconds()
        waits.append(wait)
        clock.advance(seconds=wait)
    assert len(waits) == 4
    for n, wait in enumerate(waits, start=1):
        ceiling = 2.0 * 2 ** (n - 1)
        assert ceiling / 2 <= wait <= ceiling
    assert (await _items(db))[0].attempts == 5


async def test_deliver_due_gone_destination_goes_dead_with_reason(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    gw.fail_next(DeliveryError("channel_not_found", retryable=False, gone=True))
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C404", message=_msg(), key="a", now=clock.now())
        await outbox.enqueue(s, platform="slack", destination="C404", message=_msg(), key="b",
                             now=clock.now(), update_of="a")
    report = await deliver_due(core, {"slack": gw})
    assert report.dead == 2
    a, b = await _items(db)
    assert a.status == b.status == OutboxStatus.DEAD
    assert "channel_not_found" in a.last_error and "never delivered" in b.last_error
    async with db.session() as s:
        assert [d.key for d in await outbox.dead_letters(s)] == ["b", "a"]


async def test_deliver_due_past_horizon_goes_dead_then_operator_retry_sends(db, clock, make_core):
    core = make_core(delivery_horizon_hours=1)
    gw = RecordingGateway(clock)
    gw.fail_next(*[DeliveryError("timeout", retryable=True) for _ in range(30)])
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="a", now=clock.now())
    for _ in range(30):
        await deliver_due(core, {"slack": gw}, rng=random.Random(1))
        (item,) = await _items(db)
        if item.status == OutboxStatus.DEAD:
            break
        clock.set(item.next_attempt_at)
    assert item.status == OutboxStatus.DEAD and "gave up" in item.last_error
    assert clock.now() - item.horizon_start <= timedelta(hours=1)
    gw.failures.clear()
    async with db.transaction() as s:
        assert await outbox.retry(s, now=clock.now(), all_failed=True) == 1
    assert (await deliver_due(core, {"slack": gw})).sent == 1


async def test_deliver_due_paces_one_message_per_second_per_channel(db, clock, make_core, frozen_sleep):
    core = make_core()
    core.settings.slack_pace_seconds = 1.0
    gw = RecordingGateway(clock)
    async with db.transaction() as s:
        for n in range(3):
            await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key=f"a{n}", now=clock.now())
    await deliver_due(core, {"slack": gw}, sleep=frozen_sleep)
    times = [x.at for x in gw.sent]
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)] == [1.0, 1.0]


async def test_deliver_due_keeps_window_limits_across_replicas_from_recorded_sends(db, clock, make_core,
                                                                                 frozen_sleep):
    # Teams-like limits (2 per second, 3 per 3 s); two replicas, each with its own gateway (and
    # so its own in-process pacer), take the conversation's batches in turn
    core = make_core()
    first, second = RecordingGateway(clock, platform="teams"), RecordingGateway(clock, platform="teams")
    for gw in (first, second):
        gw.window_limits = ((2, 1.0), (3, 3.0))
    async with db.transaction() as s:
        for n in range(6):
            await outbox.enqueue(s, platform="teams", destination="T1", message=_msg(f"m{n}"), key=f"t{n}",
                                 now=clock.now())
    start = clock.now()
    for gw in (first, second, first):
        assert (await deliver_due(core, {"teams": gw}, limit=2, sleep=frozen_sleep)).sent == 2
    sends = sorted([(x.at, x.message.title) for x in first.sent + second.sent])
    assert [t for _, t in sends] == [f"m{n}" for n in range(6)]
    # the second replica's first send waits for the first replica's sends to leave the windows
    assert [(at - start).total_seconds() for at, _ in sends] == [0.0, 0.0, 1.0, 3.0, 3.0, 4.0]


async def test_deliver_due_claimed_row_is_not_sent_twice_by_second_worker(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="a", now=clock.now())
    from bot.services.delivery import _claim
    claimed = await _claim(core, now=clock.now(), limit=10)
    assert len(claimed) == 1
    assert (await deliver_due(core, {"slack": gw})).claimed == 0  # leased by the "other replica"
    clock.advance(seconds=core.settings.delivery_lease_seconds + 1)  # that replica died
    assert (await deliver_due(core, {"slack": gw})).sent == 1


async def test_enqueue_commit_wakes_listeners(db, clock):
    woken = []

    def listener() -> None:
        woken.append(1)

    outbox.add_commit_listener(listener)
    try:
        async with db.transaction() as s:
            await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key="a", now=clock.now())
            assert woken == []
        assert woken == [1]
    finally:
        outbox.remove_commit_listener(listener)


async def test_dead_letters_section_lists_reason_and_retry_hint(db, clock, make_core):
    from bot.compose.outbox import dead_letters_section

    gw = RecordingGateway(clock)
    gw.fail_next(DeliveryError("not_in_channel", retryable=False))
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C9", message=_msg("Breach"), key="a", now=clock.now())
    await deliver_due(make_core(), {"slack": gw})
    async with db.session() as s:
        section = dead_letters_section(await outbox.dead_letters(s))
    assert "not_in_channel" in section.bullets[0] and "(Breach)" in section.bullets[0]
    assert "liaison outbox retry" in section.text
    assert dead_letters_section([]).text == "Every message was delivered."


async def test_deliver_due_429_holds_the_whole_destination_not_others(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    gw.fail_next(DeliveryError("ratelimited", retryable=True, retry_after=10))
    async with db.transaction() as s:
        for n in range(3):
            await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key=f"c1-{n}", now=clock.now())
        await outbox.enqueue(s, platform="slack", destination="C2", message=_msg(), key="c2", now=clock.now())
    report = await deliver_due(core, {"slack": gw})
    assert [x.destination for x in gw.sent] == ["C2"] and report.waiting == 2
    clock.advance(seconds=9)
    assert (await deliver_due(core, {"slack": gw})).claimed == 0
    clock.advance(seconds=1)
    assert (await deliver_due(core, {"slack": gw})).sent == 3
    assert all(i.attempts == 1 for i in await _items(db) if i.key in ("c1-1", "c1-2"))


async def test_deliver_due_429_hold_also_keeps_back_messages_enqueued_after_it(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    gw.fail_next(DeliveryError("ratelimited", retryable=True, retry_after=30))
    async with db.transaction() as s:
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("first"), key="first", now=clock.now())
    assert (await deliver_due(core, {"slack": gw})).retried == 1
    clock.advance(seconds=5)
    async with db.transaction() as s:  # arrives while Slack still says wait
        await outbox.enqueue(s, platform="slack", destination="C1", message=_msg("later"), key="later", now=clock.now())
        await outbox.enqueue(s, platform="teams", destination="C1", message=_msg("other platform"), key="teams",
                             now=clock.now())
    report = await deliver_due(core, {"slack": gw, "teams": gw})
    assert [x.message.title for x in gw.sent] == ["other platform"] and report.claimed == 1
    clock.advance(seconds=24)
    assert (await deliver_due(core, {"slack": gw})).claimed == 0
    clock.advance(seconds=1)  # 30 s after the 429
    assert (await deliver_due(core, {"slack": gw})).sent == 2
    assert [x.message.title for x in gw.sent] == ["other platform", "first", "later"]  # order kept


async def test_two_holds_on_one_destination_keep_the_later_moment(db, clock, make_core):
    core = make_core()
    gw = RecordingGateway(clock)
    async with db.transaction() as s:
        for n in range(2):
            await outbox.enqueue(s, platform="slack", destination="C1", message=_msg(), key=f"m{n}", now=clock.now())
    gw.fail_next(DeliveryError("ratelimited", retryable=True, retry_after=60))
    await deliver_due(core, {"slack": gw})
    async with db.transaction() as s:  # a second replica hears a shorter wait: the longer one stands
        item = (await s.execute(select(OutboxItem).where(OutboxItem.key == "m0"))).scalar_one()
    await _hold_destination(core, item, until=clock.now() + timedelta(seconds=5), release=[])
    clock.advance(seconds=30)
    assert (await deliver_due(core, {"slack": gw})).claimed == 0
    clock.advance(seconds=30)
    assert (await deliver_due(core, {"slack": gw})).sent == 2
