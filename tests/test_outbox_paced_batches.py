"""Paced delivery in real time against the fake Slack Web API (1 message a second per channel).

Counted from Slack's side: the fake's log of the posts it accepted and when they arrived, never
the outbox's own bookkeeping. Real slack_sdk over loopback, real clock, real sleeps; the
margins are generous (seconds), the failures they catch are not (a whole batch or a 5 s tick).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.slack.gateway import SlackGateway
from bot.core import Core
from bot.messages import Message
from bot.ports import SystemClock
from bot.services import outbox
from bot.services.delivery import BATCH_SECONDS, deliver_all, deliver_due
from bot.settings import Settings
from bot.store.outbox import DestinationHold, OutboxItem, OutboxStatus
from tests.fakes.slack_api import FakeSlackApi, Scripted


@pytest.fixture
async def slack():
    fake = FakeSlackApi(channel_interval=1.0)  # Slack's per-channel limit, strict
    await fake.start()
    yield fake
    await fake.stop()


def _core(db) -> Core:  # noqa: ANN001
    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url, slack_pace_seconds=1.0),
                clock=SystemClock())


def _gateway(slack: FakeSlackApi) -> SlackGateway:
    return SlackGateway(AsyncWebClient(token="xoxb-test", base_url=f"{slack.base_url}api/", timeout=5))


async def _enqueue(core: Core, channel: str, titles: list[str]) -> None:
    async with core.db.transaction() as s:
        for title in titles:
            await outbox.enqueue(s, platform="slack", destination=channel, message=Message(title=title),
                                 key=f"{channel}:{title}", now=core.clock.now())


def _posts(slack: FakeSlackApi, channel: str) -> list[float]:
    """Arrival times of the posts the fake accepted for ``channel`` (429s left out)."""
    refused = {id(c) for c in slack.rate_limited}
    return [c.at for c in slack.of("chat.postMessage") if c.body.get("channel") == channel and id(c) not in refused]


async def _until(check, seconds: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _serving(core: Core, gateways: dict):  # noqa: ANN202
    """The deliver job as `serve` runs it: deliver_all every LIAISON_DELIVERY_INTERVAL_SECONDS; stopped by draining."""
    async def job() -> None:
        while not core.draining:
            await deliver_all(core, gateways)
            for _ in range(int(core.settings.delivery_interval_seconds / 0.05)):
                if core.draining:
                    return
                await asyncio.sleep(0.05)

    task = asyncio.create_task(job())
    try:
        yield
    finally:
        core.draining = True  # SIGTERM: the send in flight finishes, the rest is handed back
        await asyncio.wait_for(task, 10)


async def test_deep_backlog_in_one_channel_does_not_hold_back_a_new_channel(db, slack):
    core = _core(db)
    await _enqueue(core, "CDEEP", [f"d{n:02d}" for n in range(30)])
    async with _serving(core, {"slack": _gateway(slack)}):
        await _until(lambda: _posts(slack, "CDEEP"), 10)
        await _enqueue(core, "CNEW", ["first"])
        enqueued = time.monotonic()
        await _until(lambda: _posts(slack, "CNEW"), 40)
        # one short batch of the deep channel at its pace, not its whole backlog (30 s)
        assert _posts(slack, "CNEW")[0] - enqueued < BATCH_SECONDS + 2.5
        await _until(lambda: len(_posts(slack, "CDEEP")) >= 8, 20)
    deep = [m["text"] for m in slack.messages["CDEEP"]]
    assert deep == [f"d{n:02d}" for n in range(len(deep))]  # in order, once each
    times = _posts(slack, "CDEEP")
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 1.0
    assert slack.rate_limited == []  # the pace alone keeps Slack's limit
    async with db.session() as s:  # drained: nothing left claimed
        assert (await s.execute(select(OutboxItem).where(OutboxItem.claim_token.is_not(None)))).first() is None


async def test_after_a_429_the_channel_resumes_when_retry_after_ends(db, slack):
    core = _core(db)
    await _enqueue(core, "C1", ["m0", "m1", "m2"])
    await _enqueue(core, "C2", ["n0", "n1"])
    slack.fail_next("chat.postMessage", Scripted(status=429, error="ratelimited", retry_after=2))
    async with _serving(core, {"slack": _gateway(slack)}):
        await _until(lambda: len(slack.messages["C1"]) == 3 and len(slack.messages["C2"]) == 2, 30)
    calls = slack.of("chat.postMessage")
    hit = calls[0]
    after = [c.at for c in calls[1:] if c.body.get("channel") == hit.body.get("channel")]
    # Retry-After 2 honoured to the second: not earlier, and not a job tick (5 s) later
    assert 2.0 <= after[0] - hit.at < 2.5
    assert [m["text"] for m in slack.messages["C1"]] == ["m0", "m1", "m2"]
    assert [m["text"] for m in slack.messages["C2"]] == ["n0", "n1"]


async def test_stopping_during_a_retry_after_hands_the_rows_back_at_once(db, slack):
    core = _core(db)
    await _enqueue(core, "C1", ["m0", "m1"])
    slack.fail_next("chat.postMessage", Scripted(status=429, error="ratelimited", retry_after=4))
    batch = asyncio.create_task(deliver_due(core, {"slack": _gateway(slack)}))
    await _until(lambda: slack.of("chat.postMessage"), 10)
    await asyncio.sleep(0.3)
    core.draining = True
    started = time.monotonic()
    report = await asyncio.wait_for(batch, 5)
    assert time.monotonic() - started < 1.5  # not the 4 s Retry-After
    assert report.sent == 0 and report.retried == 1 and report.waiting == 1
    assert len(slack.of("chat.postMessage")) == 1
    async with db.session() as s:
        rows = (await s.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars().all()
        hold = (await s.execute(select(DestinationHold))).scalar_one()
    assert all(r.status == OutboxStatus.PENDING and r.claim_token is None for r in rows)
    assert rows[0].attempts == 1 and rows[1].attempts == 0
    assert abs((hold.until - rows[0].next_attempt_at).total_seconds()) < 0.5  # other replicas wait the 4 s out
