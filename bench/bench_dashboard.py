"""Time the dashboard's partner page over real HTTP: one year of 15-minute data for 3 channels.

Data: one synthetic partner (one site) x 3 channels (voice, chat, email) x 365 days of 15-minute
intervals from the demo generator, every metric; weekly targets for the scorecard five and
service level. The page (KPIs, a 13-week chart per KPI per channel and site, SLA compliance,
breaches, escalations, feedback, reports, action items) is fetched through the aiohttp app on
loopback with a signed-in session, as a browser would, after one warm-up. Also the portfolio
page and one chart SVG. Prints a table with the floor it compares to and the command that made
it. Not a test: nothing asserts.

    python -m bench.bench_dashboard --days 365 --runs 20 \
        --url sqlite:////tmp/bench-dashboard.db --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

import aiohttp
from aiohttp import web

from bench.common import FixedClock, backend, fresh_schema
from bot.core import Core
from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
from bot.demo.generator import generate
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Target, User

CHANNELS = ("voice", "chat", "email")
TARGETS = (("csat", ">=", 85.0), ("nps", ">=", 30.0), ("ces", "<=", 2.5), ("fcr", ">=", 70.0),
           ("aht", "<=", 360.0), ("service_level", ">=", 80.0))
FLOOR_MS = 300.0


async def _time(http: aiohttp.ClientSession, url: str, runs: int) -> list[float]:
    async with http.get(url) as r:  # warm-up (imports, template compile, caches)
        assert r.status == 200, await r.text()
        await r.read()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with http.get(url) as r:
            await r.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def _run(url: str, *, days: int, runs: int) -> dict[str, object]:
    from adapters.http import create_app
    from adapters.web.session import COOKIE
    from bot.services.dashboard_links import LINK, login_link, session_token, verify

    url = fresh_schema(url, "bench_dashboard")
    db = Database(url)
    specs = synthetic_partners(1, CHANNELS)
    ids = await seed_partners(db, specs)
    end = date(2026, 11, 16)
    start = end - timedelta(days=days)
    t0 = time.perf_counter()
    rows = await insert_rows(db, generate(partners=specs, start=start, days=days, seed=7), ids=ids, partners=specs)
    load_s = time.perf_counter() - t0
    partner_id = next(iter(ids.values()))[0]
    async with db.transaction() as s:
        for metric, comparator, value in TARGETS:
            s.add(Target(partner_id=partner_id, key=f"{metric}-week", metric=metric, comparator=comparator,
                         target_value=value, window="week", min_volume=10))
        for ch in CHANNELS:
            s.add(Target(partner_id=partner_id, key=f"sl-{ch}-day", channel=ch, metric="service_level",
                         comparator=">=", target_value=80.0, window="day", min_volume=10))
        s.add(User(platform="console", platform_user_id="lead", name="Lead", role="client"))
    clock = FixedClock(datetime.combine(end, datetime.min.time(), UTC) + timedelta(hours=12))
    core = Core(db=db, settings=Settings(_env_file=None, database_url=url, dashboard_secret="bench"), clock=clock)
    link, _ = login_link(core.settings, platform="console", platform_user_id="lead", now=clock.now())
    identity = verify(core.settings, link.split("?t=")[1], purpose=LINK, now=clock.now())
    cookie, _ = session_token(core.settings, identity, now=clock.now())
    runner = web.AppRunner(create_app(core, mounts=("adapters.web",)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/dashboard"
    slug = specs[0].slug
    try:
        async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
            partner = await _time(http, f"{base}/p/{slug}", runs)
            portfolio = await _time(http, f"{base}/", runs)
            chart = await _time(http, f"{base}/p/{slug}/chart/service_level.svg", runs)
    finally:
        await runner.cleanup()
        await db.dispose()
    return {"backend": backend(url), "rows": rows, "load_s": load_s, "partner": partner, "portfolio": portfolio,
            "chart": chart}


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:///bench-dashboard.db"]
    results = [asyncio.run(_run(u, days=args.days, runs=args.runs)) for u in urls]
    print(f"\n1 partner x {len(CHANNELS)} channels x {args.days} days of 15-min intervals, every metric; "
          f"{args.runs} requests per page over loopback HTTP after one warm-up; floor {FLOOR_MS:.0f} ms\n")
    print("| backend | measurement rows | partner page median | partner page p95 | floor | "
          "portfolio median | one chart SVG median |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        verdict = "median under" if statistics.median(r["partner"]) < FLOOR_MS else "median OVER"
        print(f"| {r['backend']} | {r['rows']:,} | {statistics.median(r['partner']):.0f} ms | "
              f"{_p95(r['partner']):.0f} ms | {FLOOR_MS:.0f} ms ({verdict}) | {statistics.median(r['portfolio']):.0f} ms | "
              f"{statistics.median(r['chart']):.0f} ms |")
    print("\ncommand: python -m bench.bench_dashboard " + shlex.join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
