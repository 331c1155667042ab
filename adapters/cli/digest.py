"""``liaison digest`` (render or enqueue a weekly digest) and ``liaison qbr pack`` (write a QBR pack as Markdown)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select

from adapters.console.render import render_message
from bot.compose.qbr import pack_markdown
from bot.core import Core
from bot.domain.qbr import quarter_of
from bot.messages_codec import message_from_dict
from bot.ports import ManualClock
from bot.services.digest import build_digest, build_portfolio_digest, moment_after_week
from bot.services.outbox import enqueue_to_route
from bot.services.qbr import build_pack
from bot.settings import Settings
from bot.store.models import Partner
from bot.store.outbox import OutboxItem
from bot.store.qbr import Qbr
from jobs import qbr as qbr_job

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
    if args.week:
        from adapters.cli.errors import OperatorError

        match = WEEK.match(args.week)
        try:
            if not match:
                raise ValueError("not YYYY-Www")
            year, number = (int(part) for part in args.week.upper().split("-W"))
            date.fromisocalendar(year, number, 1)
        except ValueError as exc:
            raise OperatorError(f"--week {args.week!r} is not an ISO week ({exc}); write it like 2026-W46 "
                                "(weeks 01 to 52, or 53 in long years)") from exc
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


def _beside_db(core: Core, name: str) -> Path:
    """Return a path next to the SQLite database file (else in the working directory)."""
    url = core.settings.database_url
    return (Path(url.split(":///", 1)[1]).parent if url.startswith("sqlite") and ":///" in url else Path.cwd()) / name


def demo_meeting(now: datetime, tz: str) -> datetime:
    """The demo's QBR: the first weekday 14:00 (partner-local) at least a week from ``now``, in UTC."""
    zone = ZoneInfo(tz)
    ahead = (now + timedelta(days=7)).astimezone(zone)
    day = ahead.date() if ahead.time() <= time(14, 0) else ahead.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(14, 0), tzinfo=zone).astimezone(UTC)


async def show_digest_and_qbr(core: Core, preview: dict, write) -> None:  # noqa: ANN001 - demo showcase step
    """Show Acme's last-week digest (chart saved as PNG) and a QBR T-7 reminder with its pack."""
    now = core.clock.now()
    async with core.db.session() as s:
        tables = await s.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
    if "qbr" not in tables:  # the QBR tables arrive with the next migration (`liaison db upgrade`)
        write("The QBR tables are not in this database's schema yet; run `liaison db upgrade` once the QBR "
              "migration exists. Skipping the digest and QBR showcase.")
        return
    async with core.db.transaction() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one_or_none()
        if acme is None:
            write("No partner acme in the config; skipping the digest and QBR showcase.")
            return
        week, message = await build_digest(s, partner=acme, now=now)
        # a QBR on a weekday afternoon a week or a little more ahead; the step's clock moves to its T-7
        # moment (at most three days on, over a weekend), so the reminder with the pack is due
        meeting = demo_meeting(now, acme.timezone)
        s.add(Qbr(partner_id=acme.id, scheduled_at=meeting, source="manual"))
    if message.image and message.image.png:
        chart = _beside_db(core, f"digest-acme-{week}.png")
        chart.write_bytes(message.image.png)
        write(f"(chart saved to {chart})")
    write(render_message(message))
    at = meeting - timedelta(days=7)
    replay = Core(db=core.db, settings=core.settings, clock=ManualClock(at))
    keys = [k for k in await qbr_job.run(replay) if k.endswith(":T-7")]
    async with core.db.session() as s:
        item = (await s.execute(select(OutboxItem).where(OutboxItem.key.startswith(f"{keys[0]}@"))
                                .order_by(OutboxItem.id))).scalars().first() if keys else None
        view = await build_pack(s, partner=acme, quarter=quarter_of(meeting, acme.timezone), now=at)
    if item is not None:
        write(f"\nQBR reminder (T-7) — {item.platform} {item.destination}")
        write(render_message(message_from_dict(item.payload)))
    pack_path = _beside_db(core, f"qbr-pack-acme-{view.quarter}.md")
    pack_path.write_text(pack_markdown(view))
    write(f"\nQBR pack written to {pack_path}:\n")
    write(pack_markdown(view))
