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
    try:
        result = func(args)
        if inspect.isawaitable(result):
            result = asyncio.run(result)
    except KeyboardInterrupt:  # Ctrl-C: leave quietly, as a shell command does
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # `liaison shell | head` closed the pipe: nothing left to say
        _silence_stdout()
        return 0
    except Exception as exc:
        from adapters.cli.errors import explain

        line = explain(exc)
        if line is None:
            raise
        logging.getLogger("liaison").debug("operator mistake", exc_info=True)
        print(f"liaison {args.command}: {line}", file=sys.stderr)
        return 2
    return int(result or 0)


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would print a second BrokenPipeError: point it at devnull.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
