"""``liaison outbox``: see what is waiting, failed or dead, and send it again."""

from __future__ import annotations

import argparse

from bot.core import Core
from bot.services import outbox
from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("outbox", help="inspect and retry outgoing messages",
                            description="Every outgoing message waits in the outbox until the platform accepts it.")
    osub = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    ls = osub.add_parser("list", help="list the newest outbox rows")
    ls.add_argument("--failed", action="store_true", help="only rows that failed or went dead")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_list)
    rt = osub.add_parser("retry", help="send failed/dead rows again")
    which = rt.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the outbox row id (from `outbox list`)")
    which.add_argument("--all-failed", action="store_true", help="every failed or dead row")
    rt.set_defaults(func=_retry)


async def _list(args: argparse.Namespace) -> int:
    core = Core.from_settings(Settings())
    try:
        async with core.db.session() as session:
            items = await outbox.list_items(session, failed_only=args.failed, limit=args.limit)
    finally:
        await core.db.dispose()
    if not items:
        print("no failed or dead messages" if args.failed else "the outbox is empty")
        return 0
    print(f"{'id':>6}  {'status':<8} {'tries':>5}  {'platform':<8} {'destination':<24} {'next attempt (UTC)':<19}  key / last error")
    for item in items:
        print(f"{item.id:>6}  {item.status:<8} {item.attempts:>5}  {item.platform:<8} {item.destination[:24]:<24} "
              f"{item.next_attempt_at.strftime('%Y-%m-%d %H:%M:%S')}  {item.key}")
        if item.last_error:
            print(f"{'':>6}  last error: {item.last_error}")
    return 0


async def _retry(args: argparse.Namespace) -> int:
    core = Core.from_settings(Settings())
    try:
        async with core.db.transaction() as session:
            count = await outbox.retry(session, now=core.clock.now(), item_id=args.id, all_failed=args.all_failed)
    finally:
        await core.db.dispose()
    if args.id is not None and count == 0:
        print(f"outbox row {args.id} is not failed or dead (see `liaison outbox list --failed`)")
        return 1
    print(f"{count} message(s) queued again; a running `liaison serve` sends them within seconds")
    return 0
