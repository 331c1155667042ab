"""Three real `liaison serve` replicas on one PostgreSQL share a Teams burst to 12 conversations.

The Teams counterpart of tests/test_replicas_delivery.py. Counted from the far side: a fake Bot
Connector in its own process (tests/fakes/bot_connector.py, never de-duplicating) logs every
call with its arrival time. The replicas reach it over loopback HTTP through the serviceUrl of
the conversation references stored in the database, with botbuilder's own ConnectorClient
(LIAISON_TEAMS_ALLOW_UNAUTHENTICATED: no app id, so no token is fetched).

- SIGTERM one replica mid-burst (a rolling restart): every message exactly once, in enqueue
  order per conversation, within Teams' per-conversation limits, no lease-long gap.
- SIGKILL one replica mid-send: nothing lost. Teams has no history to look a message up in, so a
  message whose sender died mid-send may arrive twice: at most the rows the killed replica had
  in flight, counted from the database at the kill (and only those rows).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from adapters.teams.pacing import LIMITS
from bot.messages import Message
from bot.ports import SystemClock
from bot.services import outbox
from bot.store import migrate
from bot.store.conversations import ConversationRef
from bot.store.outbox import OutboxItem, OutboxStatus
from tests.fakes.serve import Replica, free_port, serve_env, wait_for
from tests.test_serve_kill_restart import all_sent

BURST = 240
CONVERSATIONS = 12


def conversation_id(n: int) -> str:
    return f"19:liaison-{n:02d}@thread.tacv2"


def sends(log: Path) -> list[dict]:
    """Return every message the fake Bot Connector took, in arrival order (repeats included)."""
    if not log.exists():
        return []
    return [r for r in map(json.loads, log.read_text(encoding="utf-8").splitlines()) if r["verb"] in ("send", "reply")]


def most_within(times: list[float], window: float) -> int:
    """Return the most arrivals inside any ``window`` seconds (times sorted)."""
    return max((sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times)), default=0)


def tally(log: Path, expected: dict[str, str]) -> dict:
    """Count delivered / duplicated / lost / out of order and the per-conversation rates from the fake's log.

    ``expected`` maps each title to the conversation it must reach.
    """
    records = sends(log)
    titles = Counter(r["title"] for r in records)
    by_conversation: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_conversation[r["conversation"]].append(r)
    misplaced = sum(1 for r in records if expected.get(r["title"], r["conversation"]) != r["conversation"])
    out_of_order = 0
    for rs in by_conversation.values():
        firsts = list(dict.fromkeys(r["title"] for r in rs))  # first arrival of each message
        out_of_order += sum(1 for a, b in zip(firsts, firsts[1:], strict=False) if a >= b)
    times = {c: [r["at"] for r in rs] for c, rs in by_conversation.items()}
    gaps = [b - a for ts in times.values() for a, b in zip(ts, ts[1:], strict=False)]
    return {"expected": len(expected), "delivered": len(set(titles) & set(expected)),
            "duplicated": sum(n - 1 for n in titles.values() if n > 1),
            "duplicated_titles": sorted(t for t, n in titles.items() if n > 1),
            "lost": len(set(expected) - set(titles)), "unexpected": len(set(titles) - set(expected)),
            "misplaced": misplaced, "out_of_order": out_of_order,
            # per conversation, each of Teams' short windows the gateway paces under (7 in 1 s, 8 in 2 s)
            "max_per_window": {f"{count}/{window:g}s": max((most_within(ts, window) for ts in times.values()),
                                                            default=0) for count, window in LIMITS[:2]},
            "max_posts_per_second_per_conversation": max((most_within(ts, 1.0) for ts in times.values()),
                                                         default=0),
            "max_gap": max(gaps, default=None)}


def fake_connector(port: int, log: Path, *, delay: float) -> subprocess.Popen:
    """Start the fake Bot Connector as its own process (it outlives any replica)."""
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.bot_connector", str(port), str(log), str(delay)],
                            stdout=subprocess.PIPE, start_new_session=True)
    assert fake.stdout is not None
    assert fake.stdout.readline().decode().startswith("http://")
    return fake


async def enqueue_teams_burst(db, service_url: str) -> dict[str, str]:  # noqa: ANN001
    """Store the conversations' references (pointing at the fake) and enqueue the burst round-robin.

    Return each message's title with the conversation id it must reach.
    """
    now = SystemClock().now()
    async with db.transaction() as s:
        for c in range(CONVERSATIONS):
            s.add(ConversationRef(key=conversation_id(c), name=f"liaison-{c:02d}", service_url=service_url,
                                  tenant_id="tenant-1", updated_at=now,
                                  reference={"conversation": {"id": conversation_id(c), "isGroup": True},
                                             "serviceUrl": service_url, "channelId": "msteams",
                                             "bot": {"id": "28:bot"}}))
        for n in range(BURST):
            # routes name a Teams conversation by its name: the gateway resolves it to the reference
            await outbox.enqueue(s, platform="teams", destination=f"liaison-{n % CONVERSATIONS:02d}",
                                 message=Message(title=f"teams-{n:03d}"), key=f"teams-{n}", now=now)
    return {f"teams-{n:03d}": conversation_id(n % CONVERSATIONS) for n in range(BURST)}


def _env(db_url: str, *, lease: float) -> dict[str, str]:
    env = serve_env(db_url, LIAISON_TEAMS_ALLOW_UNAUTHENTICATED="true",
                    LIAISON_DELIVERY_INTERVAL_SECONDS="0.3", LIAISON_DELIVERY_LEASE_SECONDS=str(lease),
                    LIAISON_EVALUATION_INTERVAL_MINUTES="60", LIAISON_SHUTDOWN_GRACE_SECONDS="20")
    for name in ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID"):
        env.pop(name, None)
    return env


def _gateways_line(replica: Replica) -> str:
    return replica.log.read_text(encoding="utf-8").partition("with gateways:")[2].split("\n")[0]


async def _start(env: dict[str, str], tmp_path: Path, n: int) -> list[Replica]:
    replicas = [Replica(env, tmp_path / f"serve-{i}.log") for i in range(n)]
    async with aiohttp.ClientSession() as http:
        for replica in replicas:
            health = await replica.ready(http)
            assert health["coordination"] == "postgresql", health
    for replica in replicas:
        # the Teams gateway is really there (the first line `serve` prints names the gateways)
        await wait_for(lambda r=replica: "teams" in _gateways_line(r), within=10, what="a replica with the Teams gateway")
    return replicas


async def in_flight(db) -> dict[int, tuple[str, str, object]]:  # noqa: ANN001
    """Return the rows marked in flight: id -> (key, claim token, lease end)."""
    async with db.session() as session:
        rows = (await session.execute(select(OutboxItem.id, OutboxItem.key, OutboxItem.claim_token,
                                             OutboxItem.claimed_until).where(
            OutboxItem.status == OutboxStatus.PENDING, OutboxItem.sending_since.is_not(None),
            OutboxItem.claim_token.is_not(None)))).all()
    return {r.id: (r.key, r.claim_token, r.claimed_until) for r in rows}


def _check(result: dict) -> None:
    assert (result["lost"], result["unexpected"], result["misplaced"]) == (0, 0, 0), result
    assert result["out_of_order"] == 0, result
    for count, window in LIMITS[:2]:
        assert result["max_per_window"][f"{count}/{window:g}s"] <= count, result


@pytest.mark.slow
@pytest.mark.replicas
async def test_three_replicas_teams_burst_survives_a_rolling_restart(db, db_url, tmp_path):
    port = free_port()
    log = tmp_path / "connector.jsonl"
    # each answer 0.1 s after the message was taken: the SIGTERM lands while sends are in flight
    fake = fake_connector(port, log, delay=0.1)
    expected = await enqueue_teams_burst(db, f"http://127.0.0.1:{port}/")
    await asyncio.to_thread(migrate.upgrade, db_url)
    lease = 60.0  # far longer than the burst: rows a graceful stop left leased would show as a long gap
    replicas: list[Replica] = []
    try:
        replicas = await _start(_env(db_url, lease=lease), tmp_path, 3)
        started = time.monotonic()
        await wait_for(lambda: len(sends(log)) >= 60, within=60, what="60 deliveries")
        victim = replicas[0]
        stopping = time.monotonic()
        victim.terminate()
        assert victim.wait(timeout=25) == 0
        stop_seconds = time.monotonic() - stopping
        assert len(sends(log)) < BURST, "the SIGTERM came after the burst was delivered"
        await wait_for(lambda: tally(log, expected)["delivered"] == BURST, within=120, what="the whole burst")
        await all_sent(db)
        elapsed = time.monotonic() - started
        result = tally(log, expected)
        print(f"teams SIGTERM 3 replicas: {result} in {elapsed:.1f}s, stop took {stop_seconds:.1f}s")
        _check(result)
        assert result["duplicated"] == 0, result
        assert stop_seconds < 10, stop_seconds
        assert result["max_gap"] < lease / 4, result  # nothing waited for a lease to lapse
        assert all(r.proc.poll() is None for r in replicas[1:])
    finally:
        for replica in replicas:
            replica.ensure_dead()
        fake.kill()
        fake.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.replicas
async def test_three_replicas_teams_burst_survives_a_sigkill_repeating_at_most_what_was_in_flight(db, db_url,
                                                                                                  tmp_path):
    port = free_port()
    log = tmp_path / "connector.jsonl"
    # each answer 0.3 s after the message was taken: the killed replica dies mid-send
    fake = fake_connector(port, log, delay=0.3)
    expected = await enqueue_teams_burst(db, f"http://127.0.0.1:{port}/")
    await asyncio.to_thread(migrate.upgrade, db_url)
    lease = 4.0  # renewed every lease/3 by a live batch; the dead replica's rows come back after it
    replicas: list[Replica] = []
    try:
        replicas = await _start(_env(db_url, lease=lease), tmp_path, 3)
        await wait_for(lambda: len(sends(log)) >= 60, within=60, what="60 deliveries")
        victim = replicas[0]
        victim.kill()
        at_kill = await in_flight(db)
        assert len(sends(log)) < BURST, "the SIGKILL came after the burst was delivered"
        # Which of those rows were the dead replica's: a live batch renews its lease every lease/3
        # and finishes a send within its pace wait plus the 0.3 s answer; the dead one's rows stay
        # exactly as they were (not reclaimable before their lease ends, at least 2/3 lease away).
        await asyncio.sleep(lease / 2)
        still = await in_flight(db)
        victims = sorted(key for row_id, (key, token, until) in at_kill.items()
                         if still.get(row_id) == (key, token, until))
        await wait_for(lambda: tally(log, expected)["delivered"] == BURST, within=120, what="the whole burst")
        await all_sent(db)
        await asyncio.sleep(lease)  # one more lease: time for a late copy, were there one
        result = tally(log, expected)
        print(f"teams SIGKILL 3 replicas: {result}; in flight on the killed replica: {victims} "
              f"(of {len(at_kill)} in flight anywhere)")
        _check(result)
        # Teams cannot be asked whether a message arrived: only the killed replica's in-flight rows repeat
        assert result["duplicated"] <= len(victims), (result, victims)
        assert {f"teams-{int(k.split('-')[1]):03d}" for k in victims} >= set(result["duplicated_titles"]), (
            result, victims)
        assert all(r.proc.poll() is None for r in replicas[1:])
    finally:
        for replica in replicas:
            replica.ensure_dead()
        fake.kill()
        fake.wait(timeout=10)
