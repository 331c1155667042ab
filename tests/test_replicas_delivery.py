"""Three real `liaison serve` replicas on one PostgreSQL share a 300-message burst to 10 channels.

Counted from the far side: the fake Slack Web API (its own process, never de-duplicating) logs
every post with its arrival time. Each scenario must end with every message delivered exactly
once, in enqueue order per channel, and no channel posted to faster than the configured pace,
whatever happens to a replica: SIGKILL mid-burst, SIGTERM mid-burst (a rolling restart), or a
platform slower than the delivery lease.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.store import migrate
from tests.fakes.serve import Replica, free_port, serve_env, wait_for
from tests.test_serve_kill_restart import all_sent, enqueue_burst, fake_slack, posts, tally

BURST = 300
CHANNELS = 10
PACE = 0.2  # seconds between two posts to one channel: at most 5 per second


def _env(db_url: str, slack_port: int, *, lease: float, pace: float = PACE) -> dict[str, str]:
    return serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                     SLACK_API_URL=f"http://127.0.0.1:{slack_port}/api/",
                     LIAISON_DELIVERY_INTERVAL_SECONDS="0.3", LIAISON_DELIVERY_LEASE_SECONDS=str(lease),
                     LIAISON_SLACK_PACE_SECONDS=str(pace), LIAISON_EVALUATION_INTERVAL_MINUTES="60",
                     LIAISON_SHUTDOWN_GRACE_SECONDS="20")


async def _start(env: dict[str, str], tmp_path, n: int) -> list[Replica]:  # noqa: ANN001
    replicas = [Replica(env, tmp_path / f"serve-{i}.log") for i in range(n)]
    async with aiohttp.ClientSession() as http:
        for replica in replicas:
            health = await replica.ready(http)
            assert health["coordination"] == "postgresql" and "scheduler_lock" in health
    return replicas


def _check(result: dict, *, pace: float) -> None:
    assert (result["lost"], result["duplicated"], result["unexpected"]) == (0, 0, 0), result
    assert result["out_of_order"] == 0, result
    if pace:
        # the fake's own arrival times: consecutive posts to one channel never closer than the pace
        assert result["min_gap"] >= pace, result
        assert result["max_posts_per_second_per_channel"] <= round(1 / pace), result


@pytest.mark.slow
@pytest.mark.replicas
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
async def test_three_replicas_burst_survives_a_replica_going_away(db, db_url, tmp_path, signal_name):
    expected = await enqueue_burst(db, BURST, CHANNELS)
    await asyncio.to_thread(migrate.upgrade, db_url)
    log = tmp_path / "slack.jsonl"
    slack_port = free_port()
    # SIGKILL: each answer comes 0.3 s after Slack took the post, so the killed replica dies
    # mid-send on every channel it was sending: those posts are on Slack but not marked sent
    fake = fake_slack(slack_port, log, fault_rate=0.05, delay=0.3 if signal_name == "SIGKILL" else 0.0)
    # SIGKILL: the dead replica's rows come back after its lease (3 s). SIGTERM: a lease far longer
    # than the whole burst, so a graceful stop that left rows leased would show as a long gap.
    lease = 3.0 if signal_name == "SIGKILL" else 60.0
    replicas: list[Replica] = []
    try:
        replicas = await _start(_env(db_url, slack_port, lease=lease), tmp_path, 3)
        started = time.monotonic()
        await wait_for(lambda: len(posts(log)) >= 60, within=60, what="60 deliveries")
        victim = replicas[0]
        if signal_name == "SIGKILL":
            # one batch holds a destination at a time, so most moments one replica holds all the work:
            # kill the replica whose batch has a send in flight (found by its claim token in its log)
            victim = await _kill_a_replica_mid_send(db, replicas, lease=lease)
        else:
            stopping = time.monotonic()
            victim.terminate()
            assert victim.wait(timeout=25) == 0
            stop_seconds = time.monotonic() - stopping
        assert len(posts(log)) < BURST, "the signal came after the burst was delivered"
        await wait_for(lambda: tally(log, expected)["delivered"] == BURST, within=120, what="the whole burst")
        await all_sent(db)
        elapsed = time.monotonic() - started
        result = tally(log, expected)
        print(f"{signal_name} 3 replicas: {result} in {elapsed:.1f}s")
        _check(result, pace=PACE)
        if signal_name == "SIGKILL":
            # the in-flight rows were looked up in the channel history, found, and not posted again
            assert result["history_lookups"] >= 1, result
        if signal_name == "SIGTERM":
            assert stop_seconds < 10, stop_seconds
            assert result["max_gap"] < lease / 4, result  # nothing waited for a lease to lapse
        assert victim.proc.poll() is not None and any(r.proc.poll() is None for r in replicas)
    finally:
        for replica in replicas:
            replica.ensure_dead()
        fake.kill()
        fake.wait(timeout=10)


async def _kill_a_replica_mid_send(db, replicas: list[Replica], *, lease: float) -> Replica:  # noqa: ANN001
    """SIGKILL the replica sending a row right now; return it once that row is left in doubt.

    The row's claim token names the batch, the batch's log line names the replica. A batch may end
    between finding and killing, so this tries again (at most two kills, one replica stays).
    """
    from sqlalchemy import select

    from bot.store.outbox import OutboxItem, OutboxStatus

    async def in_flight() -> dict[int, tuple]:
        async with db.session() as s:
            rows = (await s.execute(select(OutboxItem.id, OutboxItem.claim_token, OutboxItem.claimed_until).where(
                OutboxItem.status == OutboxStatus.PENDING, OutboxItem.sending_since.is_not(None),
                OutboxItem.claimed_until.is_not(None)))).all()
        return {row.id: (row.claim_token, row.claimed_until) for row in rows}

    kills = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sending = await in_flight()
        tokens = {token for token, _ in sending.values()}
        holder = next((r for r in replicas if r.proc.poll() is None and any(t in r.log.read_text() for t in tokens)),
                      None)
        if holder is None:
            await asyncio.sleep(0.02)
            continue
        holder.kill()
        holder.wait(timeout=10)
        kills += 1
        await asyncio.sleep(lease / 2)  # a live batch renews every lease / 3: these rows were not renewed
        after = await in_flight()
        if any(after.get(row) == claim for row, claim in sending.items() if claim[0] in holder.log.read_text()):
            return holder
        assert kills < 2, "two kills and no send left in doubt"
    raise AssertionError("no replica was seen sending within 60 s")


@pytest.mark.slow
@pytest.mark.replicas
async def test_platform_slower_than_the_lease_sends_nothing_twice(db, db_url, tmp_path):
    # every call answered 1.5 s after Slack took it; the lease is 1 s: renewals keep it alive
    expected = await enqueue_burst(db, 24, 4)
    await asyncio.to_thread(migrate.upgrade, db_url)
    log = tmp_path / "slack.jsonl"
    slack_port = free_port()
    fake = fake_slack(slack_port, log, fault_rate=0.0, delay=1.5)
    replicas: list[Replica] = []
    try:
        replicas = await _start(_env(db_url, slack_port, lease=1.0, pace=0.0), tmp_path, 3)
        await wait_for(lambda: tally(log, expected)["delivered"] == len(expected), within=120,
                       what="every slow delivery")
        await all_sent(db)
        await asyncio.sleep(3)  # three leases more: time for a copy, were there one
        result = tally(log, expected)
        print(f"slow platform 3 replicas: {result}")
        _check(result, pace=0.0)
    finally:
        for replica in replicas:
            replica.ensure_dead()
        fake.kill()
        fake.wait(timeout=10)
