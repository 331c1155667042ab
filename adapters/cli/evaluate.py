"""``liaison evaluate``: judge SLA targets now (the scheduler does this every few minutes)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bot.core import Core
from bot.services.evaluation import evaluate
from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="judge SLA targets now and queue breach alerts",
                            description="Judge every active target's complete windows since its last evaluation.")
    parser.add_argument("--since", help="re-judge from this date (YYYY-MM-DD, UTC) instead of the marks")
    parser.add_argument("--full", action="store_true", help="ignore the marks (full re-evaluation from --since)")
    parser.set_defaults(func=_evaluate)


async def _evaluate(args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print(f"--since {args.since!r} is not a date; use YYYY-MM-DD")
            return 2
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    core = Core.from_settings(Settings())
    try:
        report = await evaluate(core, since=since, full=args.full)
    finally:
        await core.db.dispose()
    print(f"judged {report.windows} windows of {report.targets} targets: {report.opened} breaches opened, "
          f"{report.recovered} recovered, {report.followups} follow-ups, {report.warnings} pre-breach warnings, "
          f"{report.messages} messages queued")
    return 0
