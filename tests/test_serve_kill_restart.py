"""SIGKILL `liaison serve` while it delivers 200 alerts, restart it: every alert arrives once.

Real processes: the fake Slack Web API (tests/fakes/flaky_slack.py, answering some calls with
429/500 and treating a post's text as its idempotency key) and `liaison serve` pointed at it
through SLACK_API_URL. The fake logs what it accepted to a file, so the count survives kills.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.cli.serve import gateway_factory
from bot.messages import Message
from bot.ports import SystemClock
from bot.services import outbox
from bot.store.outbox import OutboxItem, OutboxStatus

ALERTS = 200
CHANNELS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepted(log: Path) -> tuple[Counter, int]:
    texts: Counter = Counter()
    duplicates = 0
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "duplicate" in record:
                duplicates += 1
            elif record["method"] == "chat.postMessage":
                texts[record["text"]] += 1
    return texts, duplicates


async def _wait_for(predicate, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _fake_slack(port: int, log: Path) -> subprocess.Popen:
    # a sixth of calls: 429 with Retry-After or 500; posts deduplicated by text (the key)
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.flaky_slack", str(port), str(log),
                             "0.15", "429,500"], stdout=subprocess.PIPE, start_new_session=True)
    assert fake.stdout is not None
    assert fake.stdout.readline().decode().startswith("http://")
    return fake


def _serve_command(port: int, slack_url: str) -> list[str]:
    if gateway_factory("adapters.slack.gateway") is not None:
        # the real thing: `liaison serve` builds the Slack gateway from SLACK_BOT_TOKEN/SLACK_API_URL
        return [str(Path(sys.executable).parent / "liaison"), "serve", "--port", str(port)]
    # until the Slack adapter lands: the same serve() with tests' aiohttp Slack gateway
    return [sys.executable, "-m", "tests.fakes.serve_http_gateway", str(port), slack_url]


def _serve(env: dict[str, str], port: int, log_dir: Path, n: int) -> subprocess.Popen:
    out = open(log_dir / f"serve-{n}.log", "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(_serve_command(port, env["SLACK_API_URL"]),
                            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
async def test_serve_killed_mid_delivery_restarts_and_delivers_every_alert_once(db, db_url, tmp_path):
    now = SystemClock().now()
    async with db.transaction() as s:
        for n in range(ALERTS):
            await outbox.enqueue(s, platform="slack", destination=f"C{n % CHANNELS:02d}",
                                 message=Message(title=f"alert-{n:03d}"), key=f"alert-{n}", now=now)
    log = tmp_path / "slack-accepted.jsonl"
    slack_port = _free_port()
    procs = [_fake_slack(slack_port, log)]
    try:
        env = {**os.environ, "LIAISON_DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-test-token",
               "SLACK_SIGNING_SECRET": "test-secret", "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
               "LIAISON_DELIVERY_INTERVAL_SECONDS": "0.5", "LIAISON_DELIVERY_LEASE_SECONDS": "3",
               "LIAISON_SLACK_PACE_SECONDS": "0.05", "LIAISON_EVALUATION_INTERVAL_MINUTES": "60"}
        first = _serve(env, _free_port(), tmp_path, 1)
        procs.append(first)
        await _wait_for(lambda: sum(_accepted(log)[0].values()) >= 60, within=60, what="60 deliveries")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = sum(_accepted(log)[0].values())
        assert at_kill < ALERTS, "the kill came after everything was delivered"

        second = _serve(env, _free_port(), tmp_path, 2)
        procs.append(second)
        await _wait_for(lambda: len(_accepted(log)[0]) == ALERTS, within=90, what="all 200 alerts")
        texts, duplicates = _accepted(log)
        assert set(texts) == {f"alert-{n:03d}" for n in range(ALERTS)}
        assert max(texts.values()) == 1
        # Only a message in flight at the kill (accepted, not yet marked sent) can be offered
        # again: at most one per destination, since each destination is sent in order.
        assert duplicates <= CHANNELS
        assert second.poll() is None
        unsent = -1
        for _ in range(50):  # the last mark-sent commits may trail the fake's log by a moment
            async with db.session() as session:
                unsent = (await session.execute(select(func.count()).select_from(OutboxItem).where(
                    OutboxItem.status != OutboxStatus.SENT))).scalar_one()
            if unsent == 0:
                break
            await asyncio.sleep(0.2)
        assert unsent == 0
        os.kill(second.pid, signal.SIGTERM)
        assert second.wait(timeout=15) == 0  # clean shutdown on SIGTERM
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
