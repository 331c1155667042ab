"""Measure outbox delivery to Slack with one bot token vs per-workspace OAuth tokens from the database.

With OAuth the gateway looks each message's workspace token up in slack_installations (and
rotates it when expiring) before sending; this prints what that costs against the single-token
floor. Real slack_sdk, real outbox worker, fake Slack Web API on loopback, a fresh SQLite file per mode.

    python -m bench.bench_slack_workspaces [--messages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from adapters.slack.gateway import gateway_from_core
from bot.core import Core
from bot.messages import Message
from bot.services.delivery import deliver_all
from bot.services.outbox import enqueue
from bot.settings import Settings
from bot.store.bootstrap import ensure_schema
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_oauth import install

TEAMS = ("T0ACME", "T0GLOBEX")
CHANNELS = 5  # per workspace


async def run(url: str, messages: int, *, oauth: bool) -> float:
    """Deliver ``messages`` rows and return messages per second (wall clock, enqueue excluded)."""
    from aiohttp.test_utils import TestServer

    from adapters.http import create_app

    slack = FakeSlackApi()
    if oauth:
        for team in TEAMS:
            slack.add_workspace(team, name=team, channels=tuple(f"C{team}{n}" for n in range(CHANNELS)))
    await slack.start()
    extra = ({"slack_client_id": slack.client_id, "slack_client_secret": SecretStr(slack.client_secret),
              "slack_state_secret": SecretStr("bench")} if oauth else {"slack_bot_token": SecretStr("xoxb-bench")})
    settings = Settings(_env_file=None, database_url=url, slack_signing_secret=SecretStr("s"),
                        slack_api_url=slack.base_url + "api/", slack_pace_seconds=0, **extra)
    core = Core.from_settings(settings)
    await ensure_schema(core.db)
    if oauth:
        server = TestServer(create_app(core), host="127.0.0.1")
        await server.start_server()
        for team in TEAMS:
            assert (await install(server, slack.workspaces[team].code))[0] == 200
        await server.close()
    async with core.db.transaction() as s:
        for i in range(messages):
            team, channel = TEAMS[i % 2], f"C{TEAMS[i % 2]}{i % CHANNELS}"
            destination = f"{team}/{channel}" if oauth else channel
            await enqueue(s, platform="slack", destination=destination, message=Message(title=f"m{i}"),
                          key=f"m{i}", now=core.clock.now())
    t0 = time.perf_counter()
    report = await deliver_all(core, {"slack": gateway_from_core(core)}, limit=100)
    elapsed = time.perf_counter() - t0
    assert report.sent == messages, report
    await slack.stop()
    await core.db.dispose()
    return messages / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args(argv)
    rows = []
    for oauth in (False, True):
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-ws.db'}"
        rows.append(("OAuth, token per workspace" if oauth else "one bot token (floor)",
                     asyncio.run(run(url, args.messages, oauth=oauth))))
    floor = rows[0][1]
    print(f"{args.messages} outbox messages to {CHANNELS * len(TEAMS)} Slack channels in {len(TEAMS)} workspaces, "
          "SQLite")
    print(f"| {'mode':<28} | {'msgs/s':>8} | {'vs floor':>8} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 10}|")
    for name, rate in rows:
        print(f"| {name:<28} | {rate:>8.0f} | {rate / floor:>7.2f}x |")
    print(f"command: python -m bench.bench_slack_workspaces --messages {args.messages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
