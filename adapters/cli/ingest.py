"""``liaison ingest``: load a partner's CSV or JSON export, all or nothing."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.core import Core
from bot.ingest.csv_format import parse_csv
from bot.ingest.json_format import parse_json
from bot.ingest.rows import FormatError
from bot.services.ingest import ingest_rows
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


async def _ingest(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read it ({exc.strerror or exc})")
        return 1
    fmt = args.format or ("json" if path.suffix.lower() == ".json" else "csv")
    try:
        records, errors = parse_json(text) if fmt == "json" else parse_csv(text)
    except FormatError as exc:
        print(f"{path}: {exc}")
        return 1
    core = Core.from_settings()
    try:
        await ensure_schema(core.db)
        report = await ingest_rows(core, records, source=path.name, dry_run=args.dry_run, errors=errors)
    finally:
        await core.db.dispose()
    if report.errors:
        print(f"{path}: rejected, nothing was written. Fix these and send the whole file again:")
        for error in report.errors:
            print(f"  {error.render()}")
        return 1
    print(f"{path}: {report.summary()}")
    return 0
