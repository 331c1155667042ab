"""``liaison config``: check and apply liaison.yaml."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import DBAPIError

from bot.config.loader import (
    ConfigError,
    advisories,
    load_config,
    slack_addresses,
    workspace_advisories,
)
from bot.config.schema import LiaisonConfig
from bot.ports import Clock, SystemClock
from bot.services.config_apply import apply_config
from bot.settings import Settings
from bot.store.db import Database


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="check or apply liaison.yaml (partners, targets, routes, users)",
                            description="Validate liaison.yaml or sync it into the database.")
    csub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate the file; list every problem; write nothing")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=_check)
    apply = csub.add_parser("apply", help="sync the file into the database and print what changed")
    apply.add_argument("file", metavar="FILE")
    apply.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    apply.set_defaults(func=_apply)


CLOCK: Clock = SystemClock()  # the moment weekend QBRs are counted from; tests set their own


def _print_notes(source: str, config: LiaisonConfig) -> None:
    for note in advisories(config, now=CLOCK.now()):
        print(f"note: {source}: {note.path}: {note.message}")


async def _print_workspace_notes(source: str, config: LiaisonConfig) -> None:
    """Warn about Slack routes and identities whose workspace is not installed (read from the database)."""
    settings = Settings()
    if not settings.slack_oauth and not any("/" in value for _, value in slack_addresses(config)):
        return  # a single-workspace file: nothing to look up
    from bot.store.workspaces import installed_workspaces

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            installed = await installed_workspaces(session)
    except DBAPIError as exc:
        print(f"note: {source}: could not read the installed Slack workspaces ({exc.orig or exc}); "
              "run `liaison db upgrade` and check LIAISON_DATABASE_URL")
        return
    finally:
        await db.dispose()
    for note in workspace_advisories(config, installed=installed, multi_workspace=settings.slack_oauth):
        print(f"warning: {source}: {note.path}: {note.message}")


async def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    _print_notes(args.file, config)
    await _print_workspace_notes(args.file, config)
    targets = sum(len(p.targets) for p in config.partners)
    print(f"{args.file}: OK ({len(config.partners)} partners, "
          f"{sum(len(p.sites) for p in config.partners)} sites, {targets} targets, {len(config.users)} users)")
    return 0


async def _apply(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    _print_notes(args.file, config)
    db = Database(Settings().database_url)
    try:
        plan = await apply_config(db, config, dry_run=args.dry_run)
    except DBAPIError as exc:
        # the whole apply is one transaction, so a refusal here leaves the database as it was
        print(f"{args.file}: the database refused the change, nothing was written: "
              f"{exc.orig or exc}\nIs the schema current? Run `liaison db upgrade`.", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    print(plan.render())
    return 0
