"""Time a file ingest end to end (parse, validate, upsert) on SQLite and PostgreSQL.

Data: N synthetic partners x 3 channels x W weeks of 15-minute intervals from the demo
generator, written as one ingest CSV. Four runs on the same database: the first ingest
(all new), the same file again (nothing changes), a corrected file (every service-level
part changes) and a dry run. Prints a table and the command that made it. Not a test.

    python -m bench.bench_ingest --partners 10 --weeks 4 \
        --url sqlite:///bench-ingest.db --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import shlex
import sys
import time
from datetime import date

from bench.common import fresh_schema
from bot.core import Core
from bot.demo.bulk import seed_partners, synthetic_partners
from bot.demo.generator import COLUMNS, generate
from bot.ingest.csv_format import parse_csv
from bot.services.ingest import IngestReport, ingest_rows
from bot.settings import Settings
from bot.store.db import Database


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _corrected(rows: list[dict]) -> list[dict]:
    """Lower answered_within_sla by one wherever it is positive (a late ACD correction)."""
    fixed = []
    for row in rows:
        value = row.get("answered_within_sla")
        fixed.append({**row, "answered_within_sla": value - 1} if value else row)
    return fixed


async def _timed(core: Core, text_: str, *, dry_run: bool = False) -> tuple[float, IngestReport]:
    t0 = time.perf_counter()
    records, errors = parse_csv(text_)
    report = await ingest_rows(core, records, source="bench.csv", errors=errors, dry_run=dry_run)
    elapsed = time.perf_counter() - t0
    if report.errors:
        raise SystemExit(f"bench data rejected: {report.errors[0].render()}")
    return elapsed, report


async def _run(url: str, *, partners: int, weeks: int) -> list[dict[str, object]]:
    url = fresh_schema(url, "bench_ingest")
    db = Database(url)
    specs = synthetic_partners(partners)
    await seed_partners(db, specs)
    rows = list(generate(partners=specs, start=date(2026, 9, 7), days=7 * weeks, seed=7))
    original, corrected = _csv(rows), _csv(_corrected(rows))
    core = Core(db=db, settings=Settings(_env_file=None, database_url=url))
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    results = []
    for label, text_, dry in (("first ingest", original, False), ("same file again", original, False),
                              ("corrected file", corrected, False), ("dry run", original, True)):
        elapsed, report = await _timed(core, text_, dry_run=dry)
        results.append({"backend": backend, "run": label, "rows": report.rows, "measurements": report.measurements,
                        "created": report.created, "changed": report.changed, "seconds": elapsed})
    await db.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:///bench-ingest.db"]
    results = [r for u in urls for r in asyncio.run(_run(u, partners=args.partners, weeks=args.weeks))]
    print(f"\n{args.partners} partners x 3 channels x {args.weeks} weeks of 15-minute intervals, one CSV\n")
    print("| backend | run | CSV rows | measurements | new | changed | seconds | rows/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['run']} | {r['rows']:,} | {r['measurements']:,} | {r['created']:,} | "
              f"{r['changed']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} |")
    print("\ncommand: python -m bench.bench_ingest " + shlex.join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
