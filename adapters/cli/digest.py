"""``liaison digest`` (render or enqueue a weekly digest) and ``liaison qbr pack`` (write a QBR pack as Markdown)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sqlalchemy import select

from adapters.console.render import render_message
from bot.compose.qbr import pack_markdown
from bot.core import Core
from bot.services.digest import build_digest, build_portfolio_digest, moment_after_week
from bot.services.outbox import enqueue_to_route
from bot.services.qbr import build_pack
from bot.settings import Settings
from bot.store.models import Partner

WEEK = re.compile(r"^\d{4}-W\d{2}$")
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("digest", help="render or send a weekly KPI digest",
                            description="Build the digest for one complete ISO week (default: the last one).")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--partner", help="partner slug, e.g. acme")
    who.add_argument("--portfolio", action="store_true", help="the client's digest across every partner")
    parser.add_argument("--week", help="ISO week, e.g. 2026-W46 (default: the last complete week)")
    parser.add_argument("--dry-run", action="store_true", help="print it here instead of enqueueing it")
    parser.add_argument("--chart", type=Path, help="also save the trend chart PNG to this path")
    parser.set_defaults(func=_digest)
    qbr = sub.add_parser("qbr", help="QBR packs", description="Quarterly business review material.")
    qsub = qbr.add_subparsers(dest="qbr_command", metavar="ACTION", required=True)
    pack = qsub.add_parser("pack", help="write the QBR pack for a partner and quarter as Markdown")
    pack.add_argument("--partner", required=True, help="partner slug, e.g. acme")
    pack.add_argument("--quarter", required=True, help="e.g. 2026-Q4")
    pack.add_argument("--out", type=Path, help="Markdown file to write (default: print it)")
    pack.set_defaults(func=_pack)


async def _pack(args: argparse.Namespace) -> int:
    if not QUARTER.match(args.quarter):
        print(f"--quarter {args.quarter!r} is not a quarter; write it like 2026-Q4")
        return 2
    core = Core.from_settings(Settings())
    try:
        async with core.db.session() as s:
            partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars().all())
            partner = next((p for p in partners if p.slug == args.partner), None)
            if partner is None:
                print(f"unknown partner {args.partner!r}; known partners: {', '.join(p.slug for p in partners) or 'none'}")
                return 1
            text = pack_markdown(await build_pack(s, partner=partner, quarter=args.quarter, now=core.clock.now()))
    finally:
        await core.db.dispose()
    if args.out:
        args.out.write_text(text)
        print(f"QBR pack for {args.partner} {args.quarter} written to {args.out}")
    else:
        print(text, end="")
    return 0


async def _digest(args: argparse.Namespace) -> int:
    if args.week and not WEEK.match(args.week):
        print(f"--week {args.week!r} is not an ISO week; write it like 2026-W46")
        return 2
    core = Core.from_settings(Settings())
    try:
        async with core.db.transaction() as s:
            partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars().all())
            if args.portfolio:
                now = moment_after_week(args.week, "UTC") if args.week else core.clock.now()
                week, message = await build_portfolio_digest(s, partners=partners, now=now)
                partner_id, slug = None, "portfolio"
            else:
                partner = next((p for p in partners if p.slug == args.partner), None)
                if partner is None:
                    known = ", ".join(p.slug for p in partners) or "none yet (run `liaison config apply`)"
                    print(f"unknown partner {args.partner!r}; known partners: {known}")
                    return 1
                now = moment_after_week(args.week, partner.timezone) if args.week else core.clock.now()
                week, message = await build_digest(s, partner=partner, now=now)
                partner_id, slug = partner.id, partner.slug
            if args.chart and message.image and message.image.png:
                args.chart.write_bytes(message.image.png)
                print(f"chart saved to {args.chart}")
            if args.dry_run:
                print(render_message(message))
                return 0
            items = await enqueue_to_route(s, partner_id=partner_id, purpose="digests", message=message,
                                           key=f"digest:{slug}:{week}", now=core.clock.now())
    finally:
        await core.db.dispose()
    if not items:
        print(f"no digests route for {slug}; add one in the config (routes.digests) and run `liaison config apply`")
        return 1
    print(f"{week} digest for {slug} queued to {len(items)} route(s); a running `liaison serve` sends it")
    return 0
