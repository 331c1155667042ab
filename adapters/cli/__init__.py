"""The ``liaison`` command line: every subcommand registered here, one module each."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence

# The one visible list of CLI command modules; each has register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "adapters.cli.serve",
    "adapters.cli.outbox",
    "adapters.cli.evaluate",
    "adapters.cli.demo",
    "adapters.cli.shell",
    "adapters.cli.ingest",
    "adapters.cli.manifest",
    "adapters.cli.db",
    "adapters.cli.config",
    "adapters.cli.demo_data",
    "adapters.cli.digest",
    "adapters.cli.teams",
    "adapters.cli.feedback",
    "adapters.cli.staffing",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liaison",
        description="Liaison: SLA alerts, KPI digests, escalations and QBRs for BPO partnerships, in Slack and Teams.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    result = func(args)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
