"""Time a file ingest end to end (parse, validate, upsert) on SQLite and PostgreSQL.

Data: N synthetic partners x 3 channels x W weeks of 15-minute intervals from the demo
generator, written as one ingest CSV. Four runs on the same database: the first ingest
(all new), the same file again (nothing changes), a corrected file (every service-level
part changes) and a dry run. Prints a table and the command that made it. Not a test.

    python -m bench.bench_ingest --partners 10 --weeks 4 \
        --url sqlite:///bench-ingest.db --url postgresql://postgres@127.0.0.1:5432/test

With ``--rows N`` (e.g. 2000000) it writes an N-row CSV file instead (30 partners, as many days as
it takes; kept at ``--file`` for the next run) and loads it with ``liaison ingest`` in a child
process, twice (first, then the same file again), printing each run's time and peak RSS beside
the floor: the same measurements inserted raw through the driver (bot.demo.bulk.insert_rows, the
CSV read with the csv module, no checks, no daily sums), on a fresh database each.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import shlex
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from bench.common import fresh_schema
from bot.core import Core
from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
from bot.demo.generator import COLUMNS, generate
from bot.ingest.csv_format import stream_csv
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
    records = stream_csv(io.StringIO(text_))
    report = await ingest_rows(core, records, source="bench.csv", errors=records.errors, dry_run=dry_run)
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


_BIG_PARTNERS = 30


def _write_big(path: Path, rows: int) -> None:
    """Write an ingest CSV of about ``rows`` rows (30 partners x 3 channels, 15-minute intervals)."""
    specs = synthetic_partners(_BIG_PARTNERS)
    days = -(-rows // (_BIG_PARTNERS * (3 * 96 + 3)))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        # from May: Cairo skips its midnight when DST starts (late April), which a daily row cannot start at
        for row in generate(partners=specs, start=date(2026, 5, 4), days=days, seed=7):
            writer.writerow(row)


def _rows_of(path: Path):  # noqa: ANN202
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            yield {k: v for k, v in row.items() if v != ""}


async def _floor(url: str, path: Path) -> float:
    url = fresh_schema(url, "h21_bench_ingest_big")
    db = Database(url)
    specs = synthetic_partners(_BIG_PARTNERS)
    ids = await seed_partners(db, specs)
    t0 = time.perf_counter()
    await insert_rows(db, _rows_of(path), ids=ids, partners=specs, daily_sums=False)
    elapsed = time.perf_counter() - t0
    await db.dispose()
    return elapsed


def _child(url: str, path: Path) -> tuple[float, float, str]:
    """Run ``liaison ingest FILE`` in a child; return (seconds, peak RSS in MB, its last line)."""
    env = {**os.environ, "LIAISON_DATABASE_URL": url}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "ingest", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _pid, _status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the largest child's so far
    proc.returncode = _status
    elapsed = time.perf_counter() - t0
    rss = usage.ru_maxrss / 1024
    return elapsed, rss, out.strip().splitlines()[-1] if out.strip() else ""


def _big(urls: list[str], rows: int, path: Path) -> int:
    if not path.exists():
        t0 = time.perf_counter()
        _write_big(path, rows)
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    with path.open() as handle:
        count = sum(1 for _ in handle) - 1
    size = path.stat().st_size
    table = []
    for url in urls:
        name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        floor = asyncio.run(_floor(url, path))
        scoped = fresh_schema(url, "h21_bench_ingest_big")
        db = Database(scoped)
        asyncio.run(seed_partners(db, synthetic_partners(_BIG_PARTNERS)))
        asyncio.run(db.dispose())
        first, first_rss, first_out = _child(scoped, path)
        again, again_rss, again_out = _child(scoped, path)
        print(f"{name} first: {first_out}\n{name} again: {again_out}")
        table.append((name, first, first_rss, again, again_rss, floor))
    print(f"\n{count:,} CSV rows, {size / 1e6:.0f} MB, one `liaison ingest` per run in a child process\n")
    print("| backend | measure | Liaison | peak RSS | floor | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for name, first, first_rss, again, again_rss, floor in table:
        print(f"| {name} | first ingest | {first:.1f} s | {first_rss:.0f} MB | {floor:.1f} s | {first / floor:.2f} |")
        print(f"| {name} | same file again (vs first) | {again:.1f} s | {again_rss:.0f} MB | {first:.1f} s | "
              f"{again / first:.2f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    parser.add_argument("--rows", type=int, help="load one big generated file of about this many rows instead")
    parser.add_argument("--file", default="/tmp/bench-ingest-big.csv", help="where --rows keeps its file")
    args = parser.parse_args(argv)
    urls = args.url or ["sqlite:///bench-ingest.db"]
    if args.rows:
        code = _big(urls, args.rows, Path(args.file))
        print("\ncommand: python -m bench.bench_ingest " + shlex.join(sys.argv[1:] if argv is None else argv))
        return code
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
