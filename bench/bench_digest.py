"""Time the Monday digest run and the QBR packs: every partner's digest with its chart, the portfolio digest.

Data: N synthetic partners x 3 channels x W weeks of 15-minute intervals from the demo generator,
every metric; targets for the scorecard five (CSAT, NPS, CES, FCR, AHT) and service level. The
digest job runs as on a Monday morning (each partner's digest with an 8-week trend chart, then the
portfolio digest with ranked scorecards, all enqueued in the outbox); then one QBR pack per
partner for the quarter. Prints a table and the command that made it. Not a test: nothing asserts.

    python -m bench.bench_digest --partners 30 --weeks 13 \
        --url sqlite:///bench-digest.db --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bench.common import FixedClock, backend, fresh_schema
from bot.core import Core
from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
from bot.demo.generator import generate
from bot.domain.qbr import quarter_of
from bot.services.qbr import build_pack
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Partner, Route, Target
from jobs import digest as digest_job

CHANNELS = ("voice", "chat", "email")
TARGETS = (("csat", ">=", 85.0), ("nps", ">=", 30.0), ("ces", "<=", 2.5), ("fcr", ">=", 70.0),
           ("aht", "<=", 360.0), ("service_level", ">=", 80.0))


async def _run(url: str, *, partners: int, weeks: int) -> dict[str, object]:
    url = fresh_schema(url, "bench_digest")
    db = Database(url)
    specs = synthetic_partners(partners, CHANNELS)
    ids = await seed_partners(db, specs)
    end = date(2026, 11, 16)  # a Monday: the digest covers the week before
    start = end - timedelta(weeks=weeks)
    t0 = time.perf_counter()
    rows = await insert_rows(db, generate(partners=specs, start=start, days=weeks * 7, seed=7), ids=ids,
                             partners=specs)
    load_s = time.perf_counter() - t0
    async with db.transaction() as s:
        for partner_id in {pid for pid, _ in ids.values()}:
            for metric, comparator, value in TARGETS:
                s.add(Target(partner_id=partner_id, key=f"{metric}-week", metric=metric, comparator=comparator,
                             target_value=value, window="week", min_volume=10))
            s.add(Route(partner_id=partner_id, purpose="digests", platform="slack", destination=f"C{partner_id:06d}"))
        s.add(Route(partner_id=None, purpose="digests", platform="slack", destination="C0PORTFOLIO"))
    # Monday 15:00 UTC: past Monday 09:00 local in every bench timezone (New York to Manila), so every
    # partner's digest and the portfolio one are due
    clock = FixedClock(datetime.combine(end, datetime.min.time(), UTC) + timedelta(hours=15))
    core = Core(db=db, settings=Settings(database_url=url), clock=clock)
    t0 = time.perf_counter()
    keys = await digest_job.run(core)
    job_s = time.perf_counter() - t0
    async with db.session() as s:
        every = list((await s.exec(select(Partner).order_by(Partner.slug))).all())
    packs: list[float] = []
    for partner in every:
        quarter = quarter_of(clock.now() - timedelta(days=1), partner.timezone)
        t1 = time.perf_counter()
        async with db.session() as s:
            await build_pack(s, partner=partner, quarter=quarter, now=clock.now())
        packs.append(time.perf_counter() - t1)
    await db.dispose()
    return {"backend": backend(url), "rows": rows, "load_s": load_s, "digests": len(keys), "job_s": job_s,
            "pack_median_ms": statistics.median(packs) * 1000, "pack_max_ms": max(packs) * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=30)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:///bench-digest.db"]
    results = [asyncio.run(_run(u, partners=args.partners, weeks=args.weeks)) for u in urls]
    print(f"\n{args.partners} partners x {len(CHANNELS)} channels x {args.weeks} weeks of 15-min intervals, "
          f"every metric; {len(TARGETS)} weekly targets per partner\n")
    print("| backend | measurement rows | digests enqueued (with charts) | digest job | per digest | "
          "QBR pack median | QBR pack max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per = r["job_s"] / max(1, r["digests"])
        print(f"| {r['backend']} | {r['rows']:,} | {r['digests']} | {r['job_s']:.1f} s | {per * 1000:.0f} ms | "
              f"{r['pack_median_ms']:.0f} ms | {r['pack_max_ms']:.0f} ms |")
    print("\ncommand: python -m bench.bench_digest " + shlex.join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
