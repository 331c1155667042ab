"""``liaison shell``: the console session on the configured database."""

from __future__ import annotations

import argparse

from adapters.console.shell import run_shell
from bot.core import Core
from bot.store.bootstrap import ensure_schema


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "shell", help="type Liaison commands in the terminal, as in Slack or Teams",
        description="Open a console session on the configured database. With input piped in, "
                    "answer one command per line.")
    parser.add_argument("--as", dest="user", default="admin",
                        help="console user id from liaison.yaml (default: admin)")
    parser.set_defaults(func=_shell)


async def _shell(args: argparse.Namespace) -> int:
    core = Core.from_settings()
    try:
        await ensure_schema(core.db)
        await run_shell(core, user=args.user)
    finally:
        await core.db.dispose()
    return 0
