"""The ``report`` command, the reverse report form and the Acknowledge button.

Rights are checked here on every command, submission and press, whatever the message showed:
client managers and admins send; a partner's users (and admins) acknowledge; partner users
list and show their own partner's reports only.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.actions import ActionId, FormId
from bot.commands import CommandError, CommandRequest, command, suggest
from bot.compose import report as compose
from bot.core import Core
from bot.domain.access import AccessDenied, Actor, require_registered
from bot.domain.reports import KINDS, parse_ref
from bot.grammar import partners_by_token, resolve_partner, visible_partners
from bot.interactions import ActionResult, FormResult, Press, Submission, on_action, on_form
from bot.messages import FormErrors, Message, OpenForm, Reply
from bot.services import reports as service
from bot.store.models import Partner
from bot.store.reports import ReverseReport
from bot.store.types import valid_id

USAGE = "report [partner] | report list [partner] [open|all] | report show RR-12"
PARTNER_REFUSAL = ("Reverse reports go from the client to partners, so only client managers send them. "
                   "To tell the client something, use `feedback`. You can still see your partner's reports "
                   "with `report list`.")


def _require_sender(actor: Actor) -> None:
    require_registered(actor)
    if not actor.is_client_side:
        raise AccessDenied(PARTNER_REFUSAL)


@command("report", summary="Send a partner a reverse report, list them, or show one", usage=USAGE,
         examples=("report", "report acme", "report list", "report list acme all", "report show RR-12"))
async def report_command(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    if not request.args:
        return await _form(core, actor, None)
    sub, rest = request.args[0].lower(), request.args[1:]
    if sub == "list":
        return await _list(core, actor, rest)
    if sub == "show":
        if not rest:
            raise CommandError("Which report? Give its reference, e.g. `report show RR-12`.")
        return await _show(core, actor, rest[0])
    if sub.startswith("rr-") and parse_ref(sub) is not None:
        return await _show(core, actor, sub)
    # a partner's name may have spaces ("report Acme Contact Solutions")
    return await _form(core, actor, " ".join(request.args))


async def _form(core: Core, actor: Actor, token: str | None) -> OpenForm:
    _require_sender(actor)
    async with core.db.session() as session:
        partners = await visible_partners(session, actor)
        fixed = None
        if token is not None:
            tokens = await partners_by_token(session, actor)
            if token.lower() not in tokens:
                raise CommandError(f"'{token}' is not a partner or something report does.",
                                   suggestions=suggest(token.lower(), [p.slug for p in partners] + ["list", "show"]),
                                   usage=USAGE)
            fixed = (await resolve_partner(session, token, actor)).slug
    if not partners:
        raise CommandError("There is no active partner to send a reverse report to.")
    return OpenForm(compose.report_form(partners=[(p.slug, p.name) for p in partners], fixed_partner=fixed))


async def _list(core: Core, actor: Actor, args: tuple[str, ...]) -> Message:
    scope_word, partner = "open", None
    async with core.db.session() as session:
        for arg in args:
            word = arg.lower()
            if word in ("open", "all"):
                scope_word = word
            elif partner is None:
                partner = await resolve_partner(session, arg, actor)
            else:
                raise CommandError(f"I don't know what '{arg}' means here.", usage="report list [partner] [open|all]")
        partners = [partner] if partner is not None else await visible_partners(session, actor)
        by_id = {p.id: p for p in partners}
        stmt = select(ReverseReport).where(ReverseReport.partner_id.in_(list(by_id))).order_by(ReverseReport.id.desc())
        if scope_word == "open":
            stmt = stmt.where(ReverseReport.acknowledged_at.is_(None))
        rows = list((await session.execute(stmt.limit(50))).scalars().all())
    where = f" for {partner.name}" if partner is not None else ""
    scope = f"{'unacknowledged ' if scope_word == 'open' else ''}reverse reports{where}"
    return compose.report_list([(r, by_id[r.partner_id].name, by_id[r.partner_id].timezone) for r in rows],
                               scope=scope)


async def _show(core: Core, actor: Actor, ref: str) -> Message:
    number = parse_ref(ref)
    if number is None:
        raise CommandError(f"'{ref}' is not a reverse report reference; they look like RR-12.")
    async with core.db.session() as session:
        report = await session.get(ReverseReport, number) if valid_id(number) else None
        partner = await session.get(Partner, report.partner_id) if report is not None else None
    # a partner user learns nothing about other partners' reports, not even that they exist
    if report is None or partner is None or not actor.can_see_partner(report.partner_id):
        raise CommandError(f"There is no reverse report RR-{number} you can see.")
    return compose.report_detail(report, partner_name=partner.name, tz=partner.timezone)



@on_form(FormId.REVERSE_REPORT)
async def on_report_form(core: Core, submission: Submission) -> FormResult:
    """Check every field; create nothing unless all are right."""
    actor = submission.actor
    _require_sender(actor)
    errors: dict[str, str] = {}
    slug = submission.text("partner")
    async with core.db.session() as session:
        tokens = await partners_by_token(session, actor)
        partner = tokens.get(slug.lower()) if slug else None
        visible = await visible_partners(session, actor)
    if not slug:
        errors["partner"] = "Choose the partner this report is for."
    elif partner is None:
        close = suggest(slug.lower(), [p.slug for p in visible])
        errors["partner"] = f"There is no partner '{slug}'." + (f" Did you mean {', '.join(close)}?" if close else "")
    kind = submission.text("kind").lower()
    if kind not in KINDS:
        errors["kind"] = "Choose a type: " + ", ".join(KINDS.values()) + "."
    raw_rating, rating = submission.text("rating"), None
    if raw_rating:
        if raw_rating.isdigit() and 1 <= int(raw_rating) <= 5:
            rating = int(raw_rating)
        else:
            errors["rating"] = "A rating is a whole number from 1 to 5 (5 best), or leave it empty."
    text = submission.text("text")
    if not text:
        errors["text"] = "Say what you saw; the report needs some text."
    elif len(text) > 3000:
        errors["text"] = f"Keep it under 3000 characters (this is {len(text)}); put the rest behind a link."
    link = submission.text("link")
    if link and (not link.lower().startswith(("http://", "https://")) or " " in link or len(link) > 500):
        errors["link"] = "A link starts with https:// (or http://), has no spaces and is under 500 characters."
    if errors:
        return FormResult(errors=FormErrors(errors))
    report = await service.create_report(core.db, actor=actor, partner=partner, kind=kind, rating=rating, text=text,
                                         link=link, now=core.clock.now())
    due = report.reminder_due_at.astimezone(ZoneInfo(partner.timezone)).strftime("%a %d %b %H:%M")
    return FormResult(reply=compose.sent_confirmation(report, partner_name=partner.name, due_local=due),
                      extra={"report_id": report.id, "ref": report.ref})


@on_action(ActionId.REPORT_ACKNOWLEDGE)
async def on_acknowledge(core: Core, press: Press) -> ActionResult:
    require_registered(press.actor)
    raw = press.value.rsplit(":", 1)[-1]
    report_id = parse_ref(raw)
    if report_id is None:
        return ActionResult(reply=compose.refused("That button carries no reverse report."))
    try:
        outcome = await service.acknowledge(core.db, report_id=report_id, actor=press.actor, now=core.clock.now())
    except service.ReportNotFound as exc:
        return ActionResult(reply=compose.refused(str(exc)))
    # the pressed message (card or reminder) loses its button either way, so nobody presses a stale one
    if press.value.startswith(compose.REMINDER_VALUE):
        replace = compose.reminder_done(outcome.report)
    else:
        replace = compose.report_card(outcome.report, partner_name=outcome.partner_name)
    if not outcome.first:
        return ActionResult(reply=compose.already_acknowledged(outcome.report), replace=replace)
    return ActionResult(replace=replace, reply=compose.acknowledged_reply(outcome.report))
