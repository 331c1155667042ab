"""`qbr` commands (list, schedule, action items, pack), the "Done" button on action items, `kpi <partner> digest`."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.actions import ActionId
from bot.commands import DATE_OUT_OF_RANGE, CommandError, CommandRequest, command
from bot.compose.qbr import pack_message, qbr_list
from bot.core import Core
from bot.domain.access import require_admin, require_partner, require_registered
from bot.domain.qbr import quarter_of
from bot.grammar import resolve_partner, visible_partners
from bot.interactions import ActionResult, Press, on_action
from bot.messages import Action, Message, Reply, Section
from bot.services.digest import build_digest
from bot.services.kpi_commands import KPI_EXTENSIONS
from bot.services.qbr import build_pack, sync_schedule
from bot.store.models import Partner
from bot.store.qbr import Qbr, QbrActionItem

USAGE = ("qbr | qbr schedule <partner> YYYY-MM-DD HH:MM | qbr action <partner> \"title\" @owner YYYY-MM-DD | "
         "qbr actions [partner] | qbr pack <partner> [YYYY-Qn]")
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{text}' is not a date; write it like 2027-01-20.") from None


@command("qbr", summary="Quarterly business reviews: schedule, action items, pack.", usage=USAGE,
         examples=("qbr", "qbr schedule acme 2027-01-20 14:00", 'qbr action acme "Reduce AHT on returns" @maria 2027-02-15',
                   "qbr actions acme", "qbr pack acme 2026-Q4"))
async def qbr(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    args = list(request.args)
    now = core.clock.now()
    verb = args.pop(0) if args else ""
    async with core.db.transaction() as s:
        if verb == "":
            rows = []
            for partner in await visible_partners(s, actor):
                rows += [(partner.name, partner.timezone, q.scheduled_at, q.source)
                         for q in await sync_schedule(s, partner=partner, now=now)]
            return qbr_list(sorted(rows, key=lambda r: r[2]))
        if not args:
            raise CommandError(f"Name the partner, e.g. `qbr {verb} acme`. Usage: {USAGE}")
        partner = await resolve_partner(s, args[0], actor)
        if verb == "schedule":
            require_admin(actor, "schedule a QBR")
            if len(args) != 3:
                raise CommandError("Write `qbr schedule acme 2027-01-20 14:00` (the partner's local time).")
            try:
                local = datetime.fromisoformat(f"{args[1]}T{args[2]}")
            except ValueError:
                raise CommandError(f"'{args[1]} {args[2]}' is not a date and time; write 2027-01-20 14:00.") from None
            moment = local.replace(tzinfo=ZoneInfo(partner.timezone)).astimezone(UTC)
            if moment <= now:
                raise CommandError("That moment has passed; pick a future date.")
            if local.year > 2100:
                raise CommandError(DATE_OUT_OF_RANGE)
            taken = (await s.execute(select(Qbr.id).where(Qbr.partner_id == partner.id,
                                                          Qbr.scheduled_at == moment))).first()
            if taken is not None:
                raise CommandError(f"A QBR with {partner.name} is already scheduled then; `qbr` lists them.")
            s.add(Qbr(partner_id=partner.id, scheduled_at=moment, source="manual"))
            return Message(title=f"QBR with {partner.name} scheduled",
                           summary=f"{local:%a %d %b %Y %H:%M} ({partner.timezone}); reminders go out at T-14, T-7, T-1.")
        if verb == "action":
            require_partner(actor, partner.id, partner.name)
            if len(args) != 4 or not args[2].startswith("@"):
                raise CommandError('Write `qbr action acme "Reduce AHT on returns" @owner 2027-02-15`.')
            due = _date(args[3])
            last = (await s.execute(select(Qbr).where(Qbr.partner_id == partner.id, Qbr.scheduled_at <= now)
                                    .order_by(Qbr.scheduled_at.desc()))).scalars().first()
            item = QbrActionItem(partner_id=partner.id, qbr_id=last.id if last else None, title=args[1],
                                 owner=args[2], due_on=due, created_at=now)
            s.add(item)
            await s.flush()
            return Message(title=f"Action item added for {partner.name}", summary=f"{args[1]} — {args[2]}, due {due}")
        if verb == "actions":
            return await _actions(s, partner)
        if verb == "pack":
            quarter = args[1] if len(args) > 1 else quarter_of(now, partner.timezone)
            if not QUARTER.match(quarter):
                raise CommandError(f"'{quarter}' is not a quarter; write it like 2026-Q4.")
            view = await build_pack(s, partner=partner, quarter=quarter, now=now, viewer=actor)
            message = pack_message(view)
            return replace(message, context=f"Also as a Markdown file: `liaison qbr pack --partner {partner.slug} "
                                            f"--quarter {quarter} --out pack.md`; attached to the T-7 reminder in Slack.")
    raise CommandError(f"Unknown qbr action '{verb}'. Usage: {USAGE}")


async def _actions(session, partner: Partner) -> Message:  # noqa: ANN001
    items = (await session.execute(select(QbrActionItem).where(
        QbrActionItem.partner_id == partner.id, QbrActionItem.status == "open").order_by(QbrActionItem.due_on)
    )).scalars().all()
    if not items:
        return Message(title=f"No open QBR action items for {partner.name}")
    return Message(title=f"Open QBR action items · {partner.name}", sections=tuple(
        Section(text=f"{i.title} — {i.owner}, due {i.due_on}",
                ) for i in items), actions=tuple(
        Action(ActionId.QBR_ACTION_DONE, f"Done: {i.title[:30]}", value=f"qbr-action:{i.id}") for i in items[:5]))


@on_action(ActionId.QBR_ACTION_DONE)
async def action_done(core: Core, press: Press) -> ActionResult:
    try:
        item_id = int(press.value.removeprefix("qbr-action:"))
    except ValueError:
        return ActionResult(reply=Message(title="That button is out of date; run `qbr actions` again."))
    async with core.db.transaction() as s:
        item = await s.get(QbrActionItem, item_id)
        if item is None:
            return ActionResult(reply=Message(title="That action item no longer exists."))
        partner = await s.get(Partner, item.partner_id)
        require_partner(press.actor, partner.id, partner.name)  # re-checked on the server for every press
        item.status = "done"
        return ActionResult(replace=await _actions(s, partner))


async def _kpi_digest(core: Core, request: CommandRequest, partner: Partner) -> Reply:
    async with core.db.session() as s:
        _, message = await build_digest(s, partner=partner, now=core.clock.now(), chart=True, viewer=request.actor)
    return message


KPI_EXTENSIONS["digest"] = _kpi_digest
