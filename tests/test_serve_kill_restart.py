"""SIGKILL `liaison serve` while it delivers 200 alerts, restart it: every alert arrives exactly once.

Real processes: the fake Slack Web API (tests/fakes/flaky_slack.py, answering some calls with
429/500, never de-duplicating: a repeated post shows twice in its log) and `liaison serve`
pointed at it through SLACK_API_URL. The fake logs every post it accepted to a file, so the
count survives kills and is taken from the far side.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.messages import Message
from bot.ports import SystemClock
from bot.services import outbox
from bot.store.outbox import OutboxItem, OutboxStatus
from tests.fakes.serve import Replica, free_port, serve_env, wait_for

ALERTS = 200
CHANNELS = 10


def posts(log: Path) -> list[dict]:
    """Return every chat.postMessage the fake accepted, in arrival order (repeats included)."""
    if not log.exists():
        return []
    return [r for r in map(json.loads, log.read_text(encoding="utf-8").splitlines())
            if r["method"] == "chat.postMessage"]


def tally(log: Path, expected: set[str]) -> dict:
    """Count delivered / duplicated / lost / out of order and the per-channel pace from the fake's log."""
    records = posts(log)
    texts = Counter(r["text"] for r in records)
    by_channel: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_channel[r["channel"]].append(r)
    out_of_order = sum(1 for rs in by_channel.values() for a, b in zip(rs, rs[1:], strict=False)
                       if a["text"] >= b["text"])
    per_second = max((sum(1 for other in rs if r["at"] <= other["at"] < r["at"] + 1.0)
                      for rs in by_channel.values() for r in rs), default=0)
    min_gap = min((b["at"] - a["at"] for rs in by_channel.values() for a, b in zip(rs, rs[1:], strict=False)),
                  default=None)
    max_gap = max((b["at"] - a["at"] for rs in by_channel.values() for a, b in zip(rs, rs[1:], strict=False)),
                  default=None)
    lookups = 0
    if log.exists():
        lookups = sum(1 for line in log.read_text(encoding="utf-8").splitlines()
                      if '"conversations.' in line)
    return {"expected": len(expected), "history_lookups": lookups, "delivered": len(set(texts) & expected),
            "duplicated": sum(n - 1 for n in texts.values() if n > 1), "lost": len(expected - set(texts)),
            "unexpected": len(set(texts) - expected), "out_of_order": out_of_order,
            "max_posts_per_second_per_channel": per_second, "min_gap": min_gap, "max_gap": max_gap}


def fake_slack(port: int, log: Path, *, fault_rate: float = 0.15, kinds: str = "429,500",
               delay: float = 0.0) -> subprocess.Popen:
    """Start the flaky fake Slack Web API as its own process (it outlives any replica)."""
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.flaky_slack", str(port), str(log),
                             str(fault_rate), kinds, str(delay)], stdout=subprocess.PIPE, start_new_session=True)
    assert fake.stdout is not None
    assert fake.stdout.readline().decode().startswith("http://")
    return fake


async def enqueue_burst(db, count: int, channels: int) -> set[str]:  # noqa: ANN001
    """Enqueue ``count`` alerts round-robin over ``channels`` channels; return their texts."""
    now = SystemClock().now()
    async with db.transaction() as s:
        for n in range(count):
            await outbox.enqueue(s, platform="slack", destination=f"C{n % channels:02d}",
                                 message=Message(title=f"alert-{n:03d}"), key=f"alert-{n}", now=now)
    return {f"alert-{n:03d}" for n in range(count)}


async def all_sent(db) -> None:  # noqa: ANN001
    """Wait until every outbox row is marked sent (the marks may trail the fake's log by a moment)."""
    unsent = -1
    for _ in range(100):
        async with db.session() as session:
            unsent = (await session.execute(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.status != OutboxStatus.SENT))).scalar_one()
        if unsent == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{unsent} outbox rows never marked sent")


@pytest.mark.slow
async def test_serve_killed_mid_delivery_restarts_and_delivers_every_alert_once(db, db_url, tmp_path):
    expected = await enqueue_burst(db, ALERTS, CHANNELS)
    log = tmp_path / "slack-accepted.jsonl"
    slack_port = free_port()
    fake = fake_slack(slack_port, log)
    replicas: list[Replica] = []
    try:
        env = serve_env(db_url, SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="test-secret",
                        SLACK_API_URL=f"http://127.0.0.1:{slack_port}/api/",
                        LIAISON_DELIVERY_INTERVAL_SECONDS="0.5", LIAISON_DELIVERY_LEASE_SECONDS="3",
                        LIAISON_SLACK_PACE_SECONDS="0.05", LIAISON_EVALUATION_INTERVAL_MINUTES="60")
        first = Replica(env, tmp_path / "serve-1.log")
        replicas.append(first)
        await wait_for(lambda: len(posts(log)) >= 60, within=60, what="60 deliveries")
        first.kill()
        assert len(posts(log)) < ALERTS, "the kill came after everything was delivered"

        second = Replica(env, tmp_path / "serve-2.log")
        replicas.append(second)
        await wait_for(lambda: tally(log, expected)["delivered"] == ALERTS, within=90, what="all 200 alerts")
        await all_sent(db)
        result = tally(log, expected)
        print(f"kill-restart: {result}")
        # A row whose sender died mid-send is looked up in the channel's history (its key rides in
        # the message metadata) before it is posted again: not even the message in flight doubles.
        assert (result["lost"], result["duplicated"], result["out_of_order"]) == (0, 0, 0), result
        assert second.proc.poll() is None
        second.terminate()
        assert second.wait(timeout=30) == 0  # clean shutdown on SIGTERM
    finally:
        for replica in replicas:
            replica.ensure_dead()
        fake.kill()
        fake.wait(timeout=10)
