"""``liaison ingest`` (a CSV or JSON export) and ``liaison pull zendesk`` (a helpdesk API), all or nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bot.connectors.base import ConnectorError
from bot.connectors.zendesk import ZendeskConnector, ZendeskMapping, ZendeskRoute
from bot.core import Core
from bot.ingest.csv_format import parse_csv, stream_csv
from bot.ingest.json_format import parse_json
from bot.ingest.rows import FormatError
from bot.services.ingest import ingest_rows
from bot.services.pull import partner_timezones, pull_into
from bot.store.bootstrap import ensure_schema


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ingest", help="load KPI measurements from a CSV or JSON export (all or nothing)",
        description="Load an ACD/WFM export. A file with any bad row is rejected whole, listing every "
                    "bad row; re-sending a file changes nothing, a corrected file replaces values.")
    parser.add_argument("file", help="CSV or JSON file")
    parser.add_argument("--format", choices=("csv", "json"), help="default: from the file name")
    parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    parser.set_defaults(func=_ingest)

    pull = sub.add_parser(
        "pull", help="pull ticket KPIs (first response, resolution time, CSAT) from a helpdesk API",
        description="Pull daily first response time, resolution time and CSAT from Zendesk for one partner "
                    "and ingest them like a file (validated, all or nothing, idempotent). Tickets map to the "
                    "partner's sites by Zendesk group or brand id; without --group/--brand every ticket counts "
                    "for the partner as a whole.")
    pull.add_argument("source", choices=("zendesk",), help="the helpdesk")
    where = pull.add_mutually_exclusive_group(required=True)
    where.add_argument("--subdomain", help="the Zendesk subdomain (https://SUBDOMAIN.zendesk.com)")
    where.add_argument("--base-url", help="the API's base URL instead of a subdomain (a proxy or a test server)")
    pull.add_argument("--email", required=True, help="the Zendesk user the API token belongs to")
    pull.add_argument("--token-env", default="ZENDESK_API_TOKEN", metavar="VAR",
                      help="environment variable holding the API token (default ZENDESK_API_TOKEN); "
                           "the token itself never goes on the command line")
    pull.add_argument("--partner", required=True, help="partner slug the tickets belong to")
    pull.add_argument("--since", required=True, type=date.fromisoformat, metavar="DATE",
                      help="first day to pull (YYYY-MM-DD, the partner's local midnight)")
    pull.add_argument("--until", type=date.fromisoformat, metavar="DATE",
                      help="day to stop before (YYYY-MM-DD); default now, so today's partial day is "
                           "stored and replaced by the next pull")
    pull.add_argument("--group", action="append", default=[], metavar="ID=SITE",
                      help="tickets of this Zendesk group belong to this site (repeatable)")
    pull.add_argument("--brand", action="append", default=[], metavar="ID=SITE",
                      help="tickets of this Zendesk brand belong to this site (repeatable)")
    pull.add_argument("--dry-run", action="store_true", help="fetch, check and count; write nothing")
    pull.set_defaults(func=_pull)


# Whole-file reads (JSON exports, staffing files) hold the text and its records in memory: about
# 250,000 rows, 0.5 GB. A measurements CSV streams in chunks and has no cap.
MAX_FILE_BYTES = 25_000_000


async def read_export(path: Path, *, fmt: str | None, parse_csv, parse_json, max_bytes: int = MAX_FILE_BYTES):
    """Read and parse an export file as CSV or JSON; on failure print one line and return None."""
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as exc:
        print(f"{path}: cannot read it ({exc.strerror or exc})")
        return None
    if size > max_bytes:
        # such a file is validated whole (all or nothing) in memory; a bigger one would exhaust it
        print(f"{path}: {size / 1e6:.0f} MB is more than one load takes (at most {max_bytes / 1e6:.0f} MB, "
              "about 250,000 rows; LIAISON_INGEST_FILE_MAX_BYTES); split it by day or site and load each part")
        return None
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read it ({exc.strerror or exc})")
        return None
    except UnicodeDecodeError as exc:
        print(f"{path}: not UTF-8 text (byte {exc.start}); export it as UTF-8 and send it again")
        return None
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "csv")
    try:
        return parse_json(text) if fmt == "json" else parse_csv(text)
    except FormatError as exc:
        print(f"{path}: {exc}")
        return None


def utf8_lines(handle: BinaryIO) -> Iterator[str]:
    """Decode a binary file line by line (line ends kept, as the csv module wants them)."""
    offset = 0
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text (line {number}, byte {offset + exc.start}); "
                              "export it as UTF-8 and send it again") from exc
        offset += len(raw)


async def _ingest(args: argparse.Namespace) -> int:
    path = Path(args.file)
    fmt = args.format or ("json" if path.suffix.lower() == ".json" else "csv")
    core = Core.from_settings()
    try:
        if fmt == "json":
            parsed = await read_export(path, fmt=fmt, parse_csv=parse_csv, parse_json=parse_json,
                                       max_bytes=core.settings.ingest_file_max_bytes)
            if parsed is None:
                return 1
            records, errors = parsed
            await ensure_schema(core.db)
            report = await ingest_rows(core, records, source=path.name, dry_run=args.dry_run, errors=errors)
        else:
            report = await _ingest_csv(core, path, dry_run=args.dry_run)
            if report is None:
                return 1
    finally:
        await core.db.dispose()
    return answer_report(str(path), report, fix="Fix these and send the whole file again:")


async def _ingest_csv(core: Core, path: Path, *, dry_run: bool):
    """Stream a measurements CSV into one all-or-nothing load; on an unreadable file print one line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        print(f"{path}: cannot read it ({exc.strerror or exc})")
        return None
    with handle:
        try:
            records = stream_csv(utf8_lines(handle))
            await ensure_schema(core.db)
            return await ingest_rows(core, records, source=path.name, dry_run=dry_run, errors=records.errors)
        except FormatError as exc:
            print(f"{path}: {exc}; nothing was written")
            return None
        except OSError as exc:
            print(f"{path}: cannot read it ({exc.strerror or exc}); nothing was written")
            return None


def answer_report(name: str, report, *, fix: str) -> int:
    """Print a rejected report's errors or an accepted one's summary; return the exit status."""
    if report.errors:
        print(f"{name}: rejected, nothing was written. {fix}")
        for error in report.errors:
            print(f"  {error.render()}")
        more = getattr(report, "more_errors", 0)
        if more:
            print(f"  ... and {more:,} more (the first {len(report.errors):,} are listed)")
        return 1
    print(f"{name}: {report.summary()}")
    return 0


def _routes(partner: str, specs: list[str], *, kind: str) -> list[ZendeskRoute]:
    routes = []
    for spec in specs:
        ident, sep, site = spec.partition("=")
        if not sep or not ident.strip().isdigit() or not site.strip():
            raise ValueError(f"--{kind} {spec!r}: write ID=SITE, e.g. --{kind} 360001234567=krakow")
        key = {"group_id" if kind == "group" else "brand_id": int(ident)}
        routes.append(ZendeskRoute(partner, site.strip(), **key))
    return routes


async def _pull(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env, "")
    if not token:
        print(f"zendesk: {args.token_env} is not set; put the API token in that environment variable")
        return 1
    try:
        routes = _routes(args.partner, args.group, kind="group") + _routes(args.partner, args.brand, kind="brand")
    except ValueError as exc:
        print(f"zendesk: {exc}")
        return 1
    mapping = ZendeskMapping(tuple(routes) or (ZendeskRoute(args.partner),))
    core = Core.from_settings()
    try:
        await ensure_schema(core.db)
        timezones = await partner_timezones(core)
        if args.partner not in timezones:
            print(f"zendesk: unknown partner '{args.partner}' (known: {', '.join(sorted(timezones)) or 'none'})")
            return 1
        tz = ZoneInfo(timezones[args.partner])
        since = datetime.combine(args.since, time(), tz)
        until = datetime.combine(args.until, time(), tz) if args.until else None
        base_url = args.base_url or ZendeskConnector.base_url_for(args.subdomain)
        connector = ZendeskConnector(base_url=base_url, email=args.email, token=token, mapping=mapping,
                                     timezones=timezones, clock=core.clock)
        try:
            async with connector:
                result, report = await pull_into(core, connector, since=since, until=until, dry_run=args.dry_run)
        except ConnectorError as exc:
            print(f"zendesk: {exc}")
            return 1
    finally:
        await core.db.dispose()
    print(f"zendesk: {result.fetched.get('tickets', 0)} tickets and {result.fetched.get('ratings', 0)} ratings "
          f"fetched; {len(result.records)} day rows")
    for reason, count in sorted(result.skipped.items()):
        print(f"  skipped {count}: {reason}")
    return answer_report("zendesk", report, fix="Check --partner, --group and --brand:")
