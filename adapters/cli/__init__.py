"""The ``liaison`` command line: every subcommand registered here, one module each."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence

# The one visible list of CLI commands: name -> (the module that registers it, its one-line help).
# Only the module of the command being run is imported (so `liaison --help` or `liaison config
# check` does not pay for matplotlib, Alembic, Bolt and the demo); the help lines stand in for the rest.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("adapters.cli.serve", "run the bot: HTTP endpoints, delivery worker and scheduled jobs"),
    "outbox": ("adapters.cli.outbox", "inspect and retry outgoing messages"),
    "evaluate": ("adapters.cli.evaluate", "judge SLA targets now and queue breach alerts"),
    "demo": ("adapters.cli.demo", "the terminal demo on SQLite (no chat workspace needed)"),
    "shell": ("adapters.cli.shell", "the console session on the configured database"),
    "ingest": ("adapters.cli.ingest", "load a partner export (CSV or JSON), all or nothing"),
    "pull": ("adapters.cli.ingest", "pull KPIs from a helpdesk (Zendesk)"),
    "manifest": ("adapters.cli.manifest", "print the Slack app manifest or build the Teams package"),
    "db": ("adapters.cli.db", "manage the database schema (Alembic migrations)"),
    "config": ("adapters.cli.config", "check or apply liaison.yaml (partners, targets, routes, users)"),
    "demo-data": ("adapters.cli.demo_data", "generate realistic interval data as ingest CSV"),
    "digest": ("adapters.cli.digest", "render or send a weekly KPI digest"),
    "qbr": ("adapters.cli.digest", "QBR packs"),
    "teams": ("adapters.cli.teams", "Teams app package and conversation references"),
    "feedback": ("adapters.cli.feedback", "partner feedback pulses"),
    "staffing": ("adapters.cli.staffing", "load forecasts and schedules; check upcoming staffing shortfalls"),
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _help in COMMANDS.values()))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser: every command module without ``argv``, else only the one ``argv`` runs."""
    parser = argparse.ArgumentParser(
        prog="liaison",
        description="Liaison: SLA alerts, KPI digests, escalations and QBRs for BPO partnerships, in Slack and Teams.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if argv is None:
        modules = list(COMMAND_MODULES)
    else:
        chosen = next((a for a in argv if not a.startswith("-")), None)
        modules = [COMMANDS[chosen][0]] if chosen in COMMANDS else []
    for name in modules:
        importlib.import_module(name).register(sub)
    for command, (_module, text) in COMMANDS.items():
        if command not in sub.choices:  # named in `liaison --help`; its module loads when it runs
            sub.add_parser(command, help=text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
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
