"""Time SLA evaluation: a full re-evaluation of a year and one new day, on SQLite and PostgreSQL.

Data: N partners x 3 channels (voice, chat, email) x D days of 15-minute intervals from the
demo generator (``bot.demo``), service-level parts only; one daily service-level target per
partner and channel. Prints a table and the command that made it. Not a test: nothing asserts.

    python -m bench.bench_evaluation --partners 30 --days 365 \
        --url sqlite:///bench.db --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.common import FixedClock, fresh_schema
from bot.core import Core
from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
from bot.demo.generator import generate
from bot.services.evaluation import evaluate
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Target

CHANNELS = ("voice", "chat", "email")


async def _run(url: str, *, partners: int, days: int) -> dict[str, object]:
    url = fresh_schema(url, "bench_evaluation")
    db = Database(url)
    specs = synthetic_partners(partners, CHANNELS)
    ids = await seed_partners(db, specs)
    start = date(2025, 11, 1)
    t0 = time.perf_counter()
    rows = await insert_rows(db, generate(partners=specs, start=start, days=days - 1, seed=7), ids=ids,
                             partners=specs, metrics={"service_level"})
    load_s = time.perf_counter() - t0
    async with db.transaction() as s:
        for (_slug, _site), (partner_id, _site_id) in ids.items():
            for ch in CHANNELS:
                s.add(Target(partner_id=partner_id, key=f"sl-{ch}", channel=ch, metric="service_level",
                             comparator=">=", target_value=80.0, warning_value=85.0, window="day",
                             min_volume=50, critical_margin=10.0))
    # "now": an hour after the last loaded local day ended everywhere
    clock = FixedClock(datetime.combine(start + timedelta(days=days), datetime.min.time(), UTC)
                       + timedelta(hours=13))
    clock.moment -= timedelta(days=1)
    core = Core(db=db, settings=Settings(database_url=url), clock=clock)
    t0 = time.perf_counter()
    full = await evaluate(core, since=datetime.combine(start, datetime.min.time(), ZoneInfo("UTC")), full=True)
    full_s = time.perf_counter() - t0
    # one more day arrives, the clock moves a day: the incremental run
    rows += await insert_rows(db, generate(partners=specs, start=start + timedelta(days=days - 1), days=1, seed=8),
                              ids=ids, partners=specs, metrics={"service_level"})
    clock.moment += timedelta(days=1)
    t0 = time.perf_counter()
    day = await evaluate(core)
    day_s = time.perf_counter() - t0
    await db.dispose()
    return {"backend": "PostgreSQL" if url.startswith("postgres") else "SQLite", "rows": rows, "load_s": load_s,
            "full_s": full_s, "full_windows": full.windows, "day_s": day_s, "day_windows": day.windows,
            "episodes": full.opened}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:///bench-evaluation.db"]
    results = [asyncio.run(_run(u, partners=args.partners, days=args.days)) for u in urls]
    print(f"\n{args.partners} partners x {len(CHANNELS)} channels x {args.days} days of 15-min intervals "
          f"({args.partners * len(CHANNELS)} daily service-level targets)\n")
    print("| backend | measurement rows | full re-evaluation | windows judged | one new day | windows judged |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['rows']:,} | {r['full_s']:.1f} s | {r['full_windows']:,} | "
              f"{r['day_s'] * 1000:.0f} ms | {r['day_windows']} |")
    print("\ncommand: python -m bench.bench_evaluation " + shlex.join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
