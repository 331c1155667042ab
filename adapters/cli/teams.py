"""``liaison teams``: build the Teams app package, list stored conversations, name one for routes."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.core import Core
from bot.settings import Settings
from bot.store.conversations import link_name, list_references


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("teams", help="Teams app package and conversation references",
                            description="Microsoft Teams: the app package to upload, and where the bot can post.")
    tsub = parser.add_subparsers(dest="teams_command", metavar="ACTION", required=True)
    package = tsub.add_parser("package", help="build the Teams app package (manifest.json and icons) as a zip")
    package.add_argument("--out", default="liaison-teams.zip", help="zip to write (default liaison-teams.zip)")
    package.add_argument("--app-id", default=None, help="Azure bot app id (default: MICROSOFT_APP_ID)")
    package.add_argument("--host", required=True, help="public host of `liaison serve`, e.g. liaison.example.org")
    package.add_argument("--version", help="package version, e.g. 1.2.0 (default: 1.YYYYMMDD.MINUTE, newer each build, "
                                           "so Teams accepts it as an update)")
    package.set_defaults(func=package_command)
    refs = tsub.add_parser("refs", help="list the conversations the bot can post to (stale ones first)")
    refs.add_argument("--stale", action="store_true", help="only conversations that removed the bot")
    refs.set_defaults(func=_refs)
    link = tsub.add_parser("link", help="name a conversation so liaison.yaml routes can use the name")
    link.add_argument("key", help="the conversation id (from `liaison teams refs`)")
    link.add_argument("name", help="the name to use as a route destination, e.g. acme-alerts")
    link.set_defaults(func=_link)


def package_command(args: argparse.Namespace) -> int:
    """Build the zip; shared with `liaison manifest teams`."""
    from adapters.cli.errors import OperatorError
    from adapters.teams.package import automatic_version, build_package, check_app_id, check_version

    app_id = args.app_id or Settings().microsoft_app_id
    if not app_id:
        print("Give --app-id or set MICROSOFT_APP_ID (the Azure bot registration's app id).")
        return 1
    try:
        check_app_id(app_id)
        version = check_version(args.version) if getattr(args, "version", None) else automatic_version()
    except ValueError as exc:
        raise OperatorError(str(exc)) from exc
    path = build_package(Path(args.out), app_id=app_id, host=args.host, version=version)
    print(f"version {version}")
    print(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    return 0


async def _refs(args: argparse.Namespace) -> int:
    core = Core.from_settings(Settings())
    try:
        async with core.db.session() as session:
            rows = await list_references(session, stale_only=args.stale)
    finally:
        await core.db.dispose()
    if not rows:
        print("no stale Teams conversations" if args.stale else
              "no Teams conversations yet: install the app in a team or chat, or message the bot")
        return 0
    print(f"{'state':<6} {'name':<24} {'tenant':<12} {'updated (UTC)':<16}  conversation id")
    for row in rows:
        print(f"{'STALE' if row.stale else 'ok':<6} {(row.name or '-')[:24]:<24} {(row.tenant_id or '-')[:12]:<12} "
              f"{row.updated_at.strftime('%Y-%m-%d %H:%M'):<16}  {row.key}")
        if row.stale:
            when = row.stale_at.strftime('%Y-%m-%d %H:%M') if row.stale_at else "?"
            print(f"{'':<6} since {when}: {row.stale_reason}. Reinstall the app there (or change the route).")
    return 0


async def _link(args: argparse.Namespace) -> int:
    core = Core.from_settings(Settings())
    try:
        async with core.db.transaction() as session:
            row = await link_name(session, args.key, args.name)
    finally:
        await core.db.dispose()
    if row is None:
        print(f"no Teams conversation '{args.key}' (see `liaison teams refs`)")
        return 1
    print(f"'{args.name}' now names {args.key}; routes with destination '{args.name}' post there")
    return 0
