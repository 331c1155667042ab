"""Measure how fast `/kpi` is acknowledged under concurrent load (Slack's limit is 3 seconds).

Starts the real aiohttp app with Bolt on loopback, a fake Slack Web API, the example config
and 8 weeks of demo data on SQLite (or --url), then fires signed slash commands concurrently
and reports the time to the HTTP 200 ack and to the answer posted on response_url.

    python -m bench.bench_slash_ack [--requests 200] [--concurrency 20] [--url sqlite:////tmp/b.db]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from adapters.cli.demo import example_config_path, load_demo_data
from adapters.http import create_app
from bot.config.loader import load_config
from bot.core import Core
from bot.services.config_apply import apply_config
from bot.settings import Settings
from bot.store.bootstrap import ensure_schema
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import sign, slash_command

SECRET = "bench-signing-secret"
QUERIES = ("kpi", "kpi acme", "kpi all csat last-week", "kpi northwind sl 28d", "sla")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, requests: int, concurrency: int) -> list[tuple[str, float, float, float]]:
    slack = FakeSlackApi()
    await slack.start()
    settings = Settings(_env_file=None, database_url=url, slack_bot_token=SecretStr("xoxb-bench"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=slack.base_url + "api/")
    core = Core.from_settings(settings)
    await ensure_schema(core.db)
    await apply_config(core.db, load_config(example_config_path(None)))
    await load_demo_data(core, weeks=8, write=lambda _t: None)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    acks: list[float] = []
    answers: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    started: dict[str, float] = {}

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        text = QUERIES[i % len(QUERIES)]
        verb, _, rest = text.partition(" ")
        body, ctype = slash_command(f"/{verb}", rest, user="U0LEAD", response_url=slack.response_url(f"r{i}"))
        async with sem:
            t0 = time.perf_counter()
            started[f"r{i}"] = t0
            async with http.post(server.make_url("/slack/events"), data=body.encode(),
                                 headers={"Content-Type": ctype, **sign(SECRET, body)}) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            acks.append(time.perf_counter() - t0)

    wall = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http, i) for i in range(requests)))
    await slack.wait_for(lambda f: len(f.responses) >= requests, within=600)
    wall = time.perf_counter() - wall
    answers = [wall]  # answers finish in the background; report the time until all were posted
    await server.close()
    await slack.stop()
    await core.db.dispose()
    return [("ack (HTTP 200)", statistics.median(acks), pct(acks, 0.95), max(acks)),
            ("all answers posted", answers[0], answers[0], answers[0])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-ack.db'}"
    rows = asyncio.run(run(url, args.requests, args.concurrency))
    print(f"{args.requests} signed slash commands ({', '.join(QUERIES)}), {args.concurrency} concurrent, {url.split(':')[0]}")
    print(f"| {'measure':<20} | {'median':>9} | {'p95':>9} | {'max':>9} |")
    print(f"|{'-' * 22}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    for name, med, p95, top in rows:
        print(f"| {name:<20} | {med * 1000:>7.0f}ms | {p95 * 1000:>7.0f}ms | {top * 1000:>7.0f}ms |")
    print(f"command: python -m bench.bench_slash_ack --requests {args.requests} --concurrency {args.concurrency}")

    return 0


if __name__ == "__main__":
    sys.exit(main())
