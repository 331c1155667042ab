"""Time staffing: required agents and shortfalls for N partners x 3 channels x D days of 15-minute forecasts.

Data: N partners (one site each) x voice/chat/email x D days x 96 quarter hours of forecast and schedule,
loaded through the staffing ingest; each partner's schedule is short for 3 hours on one day. Measured:
the ingest, the plan (load forecast + schedule, Erlang C per interval, find shortfalls) for every
partner, and the warning job (plan + warnings + their charts, enqueued). Floors: the same intervals'
required agents with the textbook Erlang C search (``erlang.required_agents``, pure Python, no
database) and with the one-pass search the plan uses. Prints a table and the command. Nothing asserts.

    python -m bench.bench_staffing --partners 30 --days 14 \
        --url sqlite:////tmp/bench-staffing.db --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shlex
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.common import FixedClock, backend, fresh_schema
from bot.core import Core
from bot.domain import erlang
from bot.domain.staffing import Goal, agents_for_target, interval_need
from bot.ingest.rows import RawRecord
from bot.services.staffing import load_plan, local_days, shortfalls
from bot.services.staffing_ingest import ingest_staffing
from bot.services.staffing_warnings import warn_shortfalls
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Partner, Route, Site, Target

CHANNELS = {"voice": (60.0, 320.0, 20, 0.80), "chat": (35.0, 240.0, 30, 0.85), "email": (20.0, 420.0, 3600, 0.80)}
TZ = "Europe/Warsaw"
START = date(2026, 12, 7)


def _load(channel: str, local_hour: float) -> float:
    """Contacts per quarter hour: a day curve peaking late morning, quiet at night."""
    peak = CHANNELS[channel][0]
    return round(peak * max(0.03, math.exp(-((local_hour - 11.5) ** 2) / 18)), 1)


def _rows(partners: int, days: int) -> list[dict]:
    tz = ZoneInfo(TZ)
    goals = {ch: Goal(target=t, threshold_seconds=thr) for ch, (_, _, thr, t) in CHANNELS.items()}
    out = []
    for p in range(partners):
        short_day = START + timedelta(days=p % days)
        for d in range(days):
            day = START + timedelta(days=d)
            moment, end = local_days(day, 1, tz)
            while moment < end:
                local = moment.astimezone(tz)
                for ch, (_, aht, _, _) in CHANNELS.items():
                    contacts = _load(ch, local.hour + local.minute / 60)
                    need = interval_need(contacts=contacts, aht_seconds=aht, interval_seconds=900, goal=goals[ch],
                                         scheduled=None)
                    agents = need.required
                    if ch == "voice" and day == short_day and 10 <= local.hour < 13:
                        agents = int(agents * 0.8)
                    out.append({"partner": f"p{p:02d}", "site": "main", "channel": ch,
                                "interval_start": local.isoformat(), "interval_minutes": 15,
                                "forecast_contacts": contacts, "forecast_aht_seconds": aht,
                                "scheduled_agents": agents})
                moment += timedelta(minutes=15)
    return out


async def _seed(db: Database, partners: int) -> list[Partner]:
    out = []
    async with db.transaction() as s:
        for p in range(partners):
            partner = Partner(slug=f"p{p:02d}", name=f"Partner {p:02d}", timezone=TZ)
            s.add(partner)
            await s.flush()
            s.add(Site(partner_id=partner.id, key="main", name="Main", country="PL"))
            s.add(Route(partner_id=partner.id, purpose="alerts", platform="slack", destination=f"C0P{p:02d}"))
            for ch, (_, _, _, target) in CHANNELS.items():
                s.add(Target(partner_id=partner.id, key=f"sl-{ch}", metric="service_level", comparator=">=",
                             target_value=100 * target, window="day", channel=ch))
            out.append(partner)
    return out


def _floors(rows: list[dict]) -> dict[str, float]:
    cases = [(r["forecast_contacts"] * r["forecast_aht_seconds"] / 900, r["forecast_aht_seconds"],
              CHANNELS[r["channel"]][2], CHANNELS[r["channel"]][3]) for r in rows]
    t0 = time.perf_counter()
    for a, aht, thr, target in cases:
        erlang.required_agents(traffic=a, aht_seconds=aht, threshold_seconds=thr, target=target)
    textbook = time.perf_counter() - t0
    t0 = time.perf_counter()
    for a, aht, thr, target in cases:
        agents_for_target(traffic=a, aht_seconds=aht, threshold_seconds=thr, target=target)
    one_pass = time.perf_counter() - t0
    goals = {ch: Goal(target=t, threshold_seconds=thr) for ch, (_, _, thr, t) in CHANNELS.items()}
    t0 = time.perf_counter()
    for r in rows:
        interval_need(contacts=r["forecast_contacts"], aht_seconds=r["forecast_aht_seconds"], interval_seconds=900,
                      goal=goals[r["channel"]], scheduled=r["scheduled_agents"])
    with_sl = time.perf_counter() - t0
    return {"textbook": textbook, "one_pass": one_pass, "with_sl": with_sl}


async def _run(url: str, *, partners: int, days: int, rows: list[dict]) -> dict[str, object]:
    url = fresh_schema(url, "bench_staffing")
    db = Database(url)
    clock = FixedClock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    core = Core(db=db, settings=Settings(_env_file=None, database_url=url), clock=clock)
    seeded = await _seed(db, partners)
    records = [RawRecord(f"item {i}", r) for i, r in enumerate(rows)]
    t0 = time.perf_counter()
    report = await ingest_staffing(core, records, source="bench")  # includes the after-ingest warning run
    ingest = time.perf_counter() - t0
    assert report.ok, report.errors[:3]
    tz = ZoneInfo(TZ)
    start, end = local_days(START, days, tz)
    t0 = time.perf_counter()
    found = 0
    async with db.session() as s:
        for partner in seeded:
            plan = await load_plan(s, partner=partner, start=start, end=end)
            found += len(shortfalls(plan))
    plan_time = time.perf_counter() - t0
    # the scheduled job on unchanged data: plans every partner, finds nothing new to say
    t0 = time.perf_counter()
    rerun = await warn_shortfalls(core)
    job = time.perf_counter() - t0
    await db.dispose()
    return {"backend": backend(url), "ingest": ingest, "plan": plan_time, "job": job, "shortfalls": found,
            "said": rerun.messages}


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=30)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--url", action="append", default=[])
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:////tmp/bench-staffing.db"]
    rows = _rows(args.partners, args.days)
    floors = _floors(rows)
    intervals = len(rows)
    print(f"Staffing — {args.partners} partners x 3 channels x {args.days} days of 15-minute forecasts "
          f"({intervals:,} intervals, forecast and schedule), one 3-hour voice gap per partner\n")
    print(f"floor, textbook Erlang C search (erlang.required_agents), no database: {floors['textbook']:.2f} s")
    print(f"floor, one-pass Erlang C search (the plan's), no database: {floors['one_pass']:.2f} s")
    print(f"floor, needed + expected SL per interval (interval_need, shrinkage), no database: "
          f"{floors['with_sl']:.2f} s\n")
    print("| backend | ingest (+ warnings) | plan: required agents + shortfalls, all partners | "
          "shortfalls | warning job rerun |")
    print("|---|---:|---:|---:|---:|")
    for url in urls:
        r = await _run(url, partners=args.partners, days=args.days, rows=rows)
        print(f"| {r['backend']} | {r['ingest']:.1f} s | {r['plan']:.2f} s | {r['shortfalls']} | {r['job']:.2f} s |")
    print("\ncommand: python -m bench.bench_staffing " + shlex.join(argv))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
