"""``liaison staffing ingest FILE`` (forecasts and schedules) and ``liaison staffing warn`` (check shortfalls now)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("staffing", help="load forecasts and schedules; check upcoming staffing shortfalls",
                            description="Forecasts (forecast_contacts, forecast_aht_seconds) and schedules "
                                        "(scheduled_agents or scheduled_seconds) per partner/site/channel/interval.")
    verbs = parser.add_subparsers(dest="staffing_command", metavar="ACTION", required=True)
    ingest = verbs.add_parser("ingest", help="load a forecast/schedule CSV or JSON file (all or nothing)")
    ingest.add_argument("file", help="CSV or JSON file")
    ingest.add_argument("--format", choices=("csv", "json"), help="default: from the file name")
    ingest.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    ingest.set_defaults(func=_ingest)
    warn = verbs.add_parser("warn", help="look for shortfalls in the next days now and queue the warnings")
    warn.set_defaults(func=_warn)


async def _ingest(args: argparse.Namespace) -> int:
    from adapters.cli.ingest import answer_report, read_export
    from bot.core import Core
    from bot.ingest.staffing import parse_csv, parse_json
    from bot.services.staffing_ingest import ingest_staffing
    from bot.store.bootstrap import ensure_schema

    path = Path(args.file)
    core = Core.from_settings()
    parsed = await read_export(path, fmt=args.format, parse_csv=parse_csv, parse_json=parse_json,
                               max_bytes=core.settings.ingest_file_max_bytes)
    if parsed is None:
        await core.db.dispose()
        return 1
    records, errors = parsed
    try:
        await ensure_schema(core.db)
        report = await ingest_staffing(core, records, source=path.name, dry_run=args.dry_run, errors=errors)
    finally:
        await core.db.dispose()
    return answer_report(str(path), report, fix="Fix these and send the whole file again:")


async def _warn(args: argparse.Namespace) -> int:
    from bot.core import Core
    from bot.services.staffing_warnings import warn_shortfalls
    from bot.store.bootstrap import ensure_schema

    core = Core.from_settings()
    try:
        await ensure_schema(core.db)
        report = await warn_shortfalls(core)
    finally:
        await core.db.dispose()
    print(f"{report.partners} partner(s): {report.opened} warning(s) opened, {report.updated} updated, "
          f"{report.closed} closed; {report.messages} message(s) queued")
    return 0
