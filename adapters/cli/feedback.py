"""``liaison feedback export``: a partner's feedback answers as CSV, anonymity kept."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from sqlalchemy import select

from bot.core import Core
from bot.domain.pulse import MIN_GROUP
from bot.domain.wording import plural
from bot.services.feedback import EXPORT_COLUMNS, export_rows
from bot.settings import Settings
from bot.store.models import Partner


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("feedback", help="partner feedback pulses",
                            description="Partner feedback (pulse rounds and ad-hoc answers).")
    fsub = parser.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    export = fsub.add_parser("export", help="write a partner's feedback answers as CSV (anonymous rows unnamed)")
    export.add_argument("--partner", required=True, help="partner slug, e.g. acme")
    export.add_argument("--out", type=Path, help="CSV file to write (default: print it)")
    export.set_defaults(func=_export)


async def _export(args: argparse.Namespace) -> int:
    core = Core.from_settings(Settings())
    try:
        async with core.db.session() as s:
            partners = {p.slug: p for p in (await s.execute(select(Partner).order_by(Partner.slug))).scalars().all()}
            partner = partners.get(args.partner.lower())
            if partner is None:
                print(f"unknown partner {args.partner!r}; known partners: {', '.join(partners) or 'none'}")
                return 1
            rows, withheld, hidden = await export_rows(s, partner)
    finally:
        await core.db.dispose()
    handle = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if args.out:
            handle.close()
    notes = []
    if withheld:
        notes.append(f"{plural(withheld, 'anonymous answer')} withheld (groups under {MIN_GROUP} answers)")
    if hidden:
        notes.append(f"{plural(hidden, 'anonymous rating')} hidden (questions rated anonymously by fewer "
                     f"than {MIN_GROUP})")
    note = "".join(f"; {n}" for n in notes)
    if args.out:
        print(f"{plural(len(rows), 'answer')} for {partner.slug} written to {args.out}{note}")
    elif note:
        print(note.lstrip("; "), file=sys.stderr)
    return 0
