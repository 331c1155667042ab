"""``liaison demo-data``: write seeded demo interval data as ingest CSV."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from bot.demo.generator import COLUMNS, generate
from bot.demo.scenario import DEFAULT_SEED, example_rows, scenario_start


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-data", help="generate realistic, seeded contact-center data as ingest CSV",
        description="Generate the example scenario (or N synthetic partners) as ingest CSV.",
    )
    parser.add_argument("--weeks", type=int, default=8, help="weeks of data (default 8)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last day, YYYY-MM-DD (default yesterday, UTC)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 7)")
    parser.add_argument("--out", default="-", help="output CSV file, or - for stdout (default)")
    parser.add_argument("--partners", type=int, default=None, metavar="N",
                        help="N synthetic partners (voice, chat, email) instead of the example")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.weeks < 1:
        print("liaison demo-data: --weeks must be at least 1", file=sys.stderr)
        return 2
    if args.partners is not None and args.partners < 1:
        print("liaison demo-data: --partners must be at least 1", file=sys.stderr)
        return 2
    end = args.end or (datetime.now(UTC).date() - timedelta(days=1))
    if args.partners:
        from bot.demo.bulk import synthetic_partners

        rows = generate(partners=synthetic_partners(args.partners, ("voice", "chat", "email")),
                        start=scenario_start(end, args.weeks), days=7 * args.weeks, seed=args.seed)
    else:
        rows = example_rows(end=end, weeks=args.weeks, seed=args.seed)
    if args.out == "-":
        try:
            _write(sys.stdout, rows)
            sys.stdout.flush()
        except BrokenPipeError:
            # `liaison demo-data | head` closes the pipe early; that is not an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as fh:
            count = _write(fh, rows)
    except OSError as exc:
        print(f"liaison demo-data: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {count} rows to {args.out}", file=sys.stderr)
    return 0


def _write(fh: TextIO, rows) -> int:  # noqa: ANN001
    writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
