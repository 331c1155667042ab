"""The ``escalate`` command, the escalation buttons and forms, wired to the escalation services.

Every press and submission is authorized again here, on the server, whatever the message
that carried the button showed: the services check the actor's rights on each move.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.actions import ActionId, FormId
from bot.commands import CommandError, CommandRequest, command, suggest
from bot.compose import escalation as compose
from bot.core import Core
from bot.domain import metrics
from bot.domain.access import AccessDenied, Actor, require_registered
from bot.domain.escalation import (
    Category,
    Move,
    Severity,
    State,
    TransitionRefused,
    can_view,
    check_move,
    not_visible,
    parse_ref,
    require_view,
)
from bot.domain.wording import comparator_symbol
from bot.grammar import NOT_VISIBLE, unknown_partner
from bot.interactions import ActionResult, FormResult, Press, Submission, on_action, on_form
from bot.messages import FormErrors, Message, OpenForm, Reply
from bot.services import escalations as service
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation, events_of, get_escalation, list_escalations
from bot.store.models import Partner, Target, User

USAGE = "escalate | escalate list [partner] [open|all] | escalate show ESC-123"
ACTIVE_STATES = [State.OPEN.value, State.ACKNOWLEDGED.value]


async def _partners(session: AsyncSession, actor: Actor) -> list[Partner]:
    rows = (await session.exec(sm_select(Partner).where(Partner.active == True).order_by(Partner.slug))).all()  # noqa: E712
    return [p for p in rows if actor.can_see_partner(p.id)]


async def filing_form_for(core: Core, actor: Actor, prefill: compose.FilingPrefill | None = None) -> OpenForm:
    """Return the filing form for ``actor``: a partner user's own partner is fixed."""
    require_registered(actor)
    async with core.db.session() as session:
        partners = await _partners(session, actor)
    if not partners:
        raise AccessDenied("There is no active partner you can file an escalation for.")
    fixed = actor.partner_slug or partners[0].slug if actor.is_partner else None
    return OpenForm(compose.filing_form(partners=[(p.slug, p.name) for p in partners], fixed_partner=fixed,
                                        prefill=prefill))


async def _show_card(core: Core, esc: Escalation) -> Message:
    async with core.db.session() as session:
        setting = await service.load_setting(session, esc.partner_id)
    return compose.escalation_card(esc, service.card_context(esc, setting))


# ---- command ---------------------------------------------------------------------------------

@command("escalate", summary="File an escalation, list them, or show one with its history",
         usage=USAGE, examples=("escalate", "escalate list", "escalate list acme all", "escalate show ESC-12"))
async def escalate_command(core: Core, request: CommandRequest) -> Reply:
    """File (no arguments), list or show escalations."""
    actor = request.actor
    require_registered(actor)
    if not request.args:
        return await filing_form_for(core, actor)
    sub, rest = request.args[0].lower(), request.args[1:]
    if sub == "list":
        return await _list(core, actor, rest)
    if sub == "show":
        if not rest:
            raise CommandError("Which escalation? Give its reference, e.g. `escalate show ESC-12`.")
        return await _show(core, actor, rest[0])
    if parse_ref(sub) is not None and sub.upper().startswith("ESC-"):
        return await _show(core, actor, sub)
    raise CommandError(f"'{request.args[0]}' is not something escalate does.",
                       suggestions=suggest(sub, ["list", "show"]))


async def _list(core: Core, actor: Actor, args: tuple[str, ...]) -> Message:
    scope_word, partner_slug = "open", None
    for arg in args:
        word = arg.lower()
        if word in ("open", "all"):
            scope_word = word
        elif partner_slug is None:
            partner_slug = word
        else:
            raise CommandError(f"I don't know what '{arg}' means here.", usage="escalate list [partner] [open|all]")
    async with core.db.session() as session:
        every = (await session.exec(sm_select(Partner).order_by(Partner.slug))).all()
        by_slug = {p.slug: p for p in every}
        if partner_slug is not None:
            partner = by_slug.get(partner_slug)
            if partner is None or not actor.can_see_partner(partner.id):
                raise unknown_partner(partner_slug, [p.slug for p in every if actor.can_see_partner(p.id)])
            partner_ids = [partner.id]
        else:
            partner_ids = [p.id for p in every if actor.can_see_partner(p.id)]
        rows = await list_escalations(session, partner_ids=partner_ids,
                                      states=ACTIVE_STATES if scope_word == "open" else None)
    names = {p.id: p.name for p in every}
    visible = [(e, names.get(e.partner_id, "?")) for e in rows
               if can_view(actor, partner_id=e.partner_id, category=e.category, filed_by=e.filed_by)]
    from zoneinfo import ZoneInfo

    tz_of = {p.id: ZoneInfo(p.timezone) for p in every}
    where = f" for {by_slug[partner_slug].name}" if partner_slug else ""
    scope = f"{'open' if scope_word == 'open' else ''} escalations{where}".strip()
    return compose.escalation_list(visible, scope=scope, tz_of=tz_of)


async def _show(core: Core, actor: Actor, ref: str) -> Message:
    number = parse_ref(ref)
    if number is None:
        raise CommandError(f"'{ref}' is not an escalation reference; they look like ESC-12.")
    async with core.db.session() as session:
        esc = await get_escalation(session, number)
        if esc is None:  # reads like one the actor may not see: nobody learns which refs exist
            raise AccessDenied(not_visible(f"ESC-{number}"))
        require_view(actor, partner_id=esc.partner_id, category=esc.category, filed_by=esc.filed_by, ref=esc.ref)
        events = await events_of(session, esc.id)
        setting = await service.load_setting(session, esc.partner_id)
    return compose.escalation_detail(esc, events, service.card_context(esc, setting))


# ---- buttons ---------------------------------------------------------------------------------

def _escalation_id(value: str) -> int | None:
    raw = value.rsplit(":", 1)[-1]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else parse_ref(raw)


async def _run(core: Core, press: Press, fn, what: str, **kwargs) -> ActionResult:  # noqa: ANN001
    escalation_id = _escalation_id(press.value)
    if escalation_id is None:
        return ActionResult(reply=compose.refused("That button carries no escalation."))
    try:
        esc = await fn(core.db, escalation_id=escalation_id, actor=press.actor, now=core.clock.now(), **kwargs)
    except (TransitionRefused, service.EscalationNotFound, ValueError) as exc:
        return ActionResult(reply=compose.refused(str(exc)))
    return ActionResult(replace=await _show_card(core, esc), reply=compose.done(esc, what))


async def _precheck(core: Core, press: Press, move: Move) -> Escalation | ActionResult:
    """Check rights and state before opening a form, so nobody fills in a form for nothing."""
    escalation_id = _escalation_id(press.value)
    async with core.db.session() as session:
        esc = await get_escalation(session, escalation_id) if escalation_id is not None else None
        if esc is None:
            return ActionResult(reply=compose.refused("That escalation no longer exists."))
        setting = await service.load_setting(session, esc.partner_id)
    try:
        check_move(state=esc.state, move=move, actor=press.actor, partner_id=esc.partner_id, category=esc.category,
                   filed_by=esc.filed_by, level=esc.level, top_level=setting.top, ref=esc.ref)
    except TransitionRefused as exc:
        return ActionResult(reply=compose.refused(str(exc)))
    return esc


@on_action(ActionId.ESCALATION_ACKNOWLEDGE)
async def on_acknowledge(core: Core, press: Press) -> ActionResult:
    return await _run(core, press, service.acknowledge, "acknowledged")


@on_action(ActionId.ESCALATION_ESCALATE_NOW)
async def on_escalate_now(core: Core, press: Press) -> ActionResult:
    return await _run(core, press, service.escalate_now, "escalated to the next level")


@on_action(ActionId.ESCALATION_REOPEN)
async def on_reopen(core: Core, press: Press) -> ActionResult:
    return await _run(core, press, service.reopen, "reopened")


@on_action(ActionId.ESCALATION_RESOLVE)
async def on_resolve(core: Core, press: Press) -> ActionResult:
    checked = await _precheck(core, press, Move.RESOLVE)
    if isinstance(checked, ActionResult):
        return checked
    return ActionResult(open_form=OpenForm(compose.resolve_form(checked)))


@on_action(ActionId.ESCALATION_ADD_NOTE)
async def on_add_note(core: Core, press: Press) -> ActionResult:
    checked = await _precheck(core, press, Move.NOTE)
    if isinstance(checked, ActionResult):
        return checked
    return ActionResult(open_form=OpenForm(compose.note_form(checked)))


async def _people_for(session: AsyncSession, esc: Escalation) -> list[tuple[str, str]]:
    users = (await session.exec(sm_select(User).where(User.active == True, User.handle != "")  # noqa: E712
                                .order_by(User.handle))).all()
    seen: dict[str, str] = {}
    for user in users:
        if user.handle not in seen and can_view(service.actor_of(user), partner_id=esc.partner_id,
                                                category=esc.category, filed_by=esc.filed_by):
            seen[user.handle] = user.name or user.handle
    return list(seen.items())


@on_action(ActionId.ESCALATION_REASSIGN)
async def on_reassign(core: Core, press: Press) -> ActionResult:
    checked = await _precheck(core, press, Move.REASSIGN)
    if isinstance(checked, ActionResult):
        return checked
    async with core.db.session() as session:
        people = await _people_for(session, checked)
    return ActionResult(open_form=OpenForm(compose.reassign_form(checked, people=people)))


async def _breach_prefill(session: AsyncSession, breach_id: int) -> compose.FilingPrefill | None:
    """Return filing values describing an SLA breach episode, or None if it is gone."""
    breach = await session.get(BreachEpisode, breach_id)
    if breach is None:
        return None
    partner = await session.get(Partner, breach.partner_id)
    target = await session.get(Target, breach.target_id)
    metric = metrics.lookup(target.metric) if target is not None else None
    label = metric.label if metric is not None else (target.metric if target is not None else "a KPI")
    when = breach.opened_at.astimezone(ZoneInfo(partner.timezone)) if partner else breach.opened_at
    zone = partner.timezone if partner else "UTC"
    lines = [f"SLA breach of {label} since {when:%Y-%m-%d %H:%M} ({zone})."]
    if target is not None:
        lines.append(f"Target: {comparator_symbol(target.comparator)} {target.target_value:g} per {target.window}.")
    lines.append(f"Worst value: {breach.worst_value:g}; latest: {breach.last_value:g}.")
    return compose.FilingPrefill(partner=partner.slug if partner else None, severity=Severity.P2.value,
                                 category=Category.SLA_PERFORMANCE.value, title=f"SLA breach: {label}",
                                 description="\n".join(lines), breach_episode_id=breach_id)


@on_action(ActionId.BREACH_OPEN_ESCALATION)
async def on_breach_open_escalation(core: Core, press: Press) -> ActionResult:
    """Open the filing form prefilled from the breach the alert is about."""
    require_registered(press.actor)
    raw = press.value.rsplit(":", 1)[-1]
    prefill = None
    if raw.isdigit():
        async with core.db.session() as session:
            prefill = await _breach_prefill(session, int(raw))
        if prefill is not None and prefill.partner is not None:
            async with core.db.session() as session:
                partner = (await session.exec(sm_select(Partner).where(Partner.slug == prefill.partner))).first()
            if partner is not None and not press.actor.can_see_partner(partner.id):
                raise AccessDenied(NOT_VISIBLE)
    if prefill is None:
        prefill = compose.FilingPrefill(category=Category.SLA_PERFORMANCE.value, severity=Severity.P2.value)
    return ActionResult(open_form=await filing_form_for(core, press.actor, prefill))


# ---- forms -----------------------------------------------------------------------------------


@on_form(FormId.ESCALATION_FILE)
async def on_file(core: Core, submission: Submission) -> FormResult:
    """Validate the filing form field by field; create nothing unless every field is right."""
    actor = submission.actor
    require_registered(actor)
    errors: dict[str, str] = {}
    slug = submission.text("partner") or (actor.partner_slug or "" if actor.is_partner else "")
    async with core.db.session() as session:
        partner = (await session.exec(sm_select(Partner).where(Partner.slug == slug))).first() if slug else None
        visible = await _partners(session, actor)
    if not slug:
        errors["partner"] = "Choose the partner this is about."
    elif partner is None or not partner.active or not actor.can_see_partner(partner.id):
        # another partner's slug reads exactly like a missing one: a partner user learns no names
        close = suggest(slug, [p.slug for p in visible])
        errors["partner"] = f"There is no partner '{slug}' you can file for." + (
            f" Did you mean {', '.join(close)}?" if close else "")
    severity = submission.text("severity").upper()
    if severity not in Severity.__members__:
        errors["severity"] = "Choose a severity from P1 (critical) to P4 (low)."
    category = submission.text("category").lower()
    if category not in {c.value for c in Category}:
        errors["category"] = "Choose a category."
    title = submission.text("title")
    if not title:
        errors["title"] = "Give the escalation a short title."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters; put details in the description."
    link = submission.text("link")
    if link and not link.lower().startswith(("http://", "https://")):
        errors["link"] = "A link starts with https:// (or http://)."
    if errors:
        return FormResult(errors=FormErrors(errors))
    breach_id = None
    if submission.state.startswith("breach:") and submission.state[7:].isascii() and submission.state[7:].isdigit():
        # the state came back from the client: service.file_escalation re-checks that this breach
        # is the chosen partner's before linking it (a forged "breach:47" of another partner is refused)
        breach_id = int(submission.state[7:])
    esc = await service.file_escalation(core.db, actor=actor, partner_id=partner.id, severity=severity,
                                        category=category, title=title, description=submission.text("description"),
                                        link=link, breach_episode_id=breach_id, now=core.clock.now())
    async with core.db.session() as session:
        setting = await service.load_setting(session, esc.partner_id)
    return FormResult(reply=compose.filed_confirmation(esc, service.card_context(esc, setting)),
                      extra={"escalation_id": esc.id, "ref": esc.ref})


async def _form_change(core: Core, submission: Submission, fn, what: str, *, field: str, required: bool,
                       **kwargs) -> FormResult:  # noqa: ANN001
    escalation_id = _escalation_id(submission.state) if submission.state else None
    if escalation_id is None:
        return FormResult(reply=compose.refused("That form lost track of its escalation; press the button again."))
    value = submission.text(field)
    if required and not value:
        return FormResult(errors=FormErrors({field: "This can't be empty."}))
    try:
        esc = await fn(core.db, escalation_id=escalation_id, actor=submission.actor, now=core.clock.now(), **kwargs)
    except (TransitionRefused, service.EscalationNotFound) as exc:
        return FormResult(reply=compose.refused(str(exc)))
    except ValueError as exc:
        return FormResult(errors=FormErrors({field: str(exc)}))
    return FormResult(reply=compose.done(esc, what), extra={"escalation_id": esc.id})


@on_form(FormId.ESCALATION_RESOLVE)
async def on_resolve_form(core: Core, submission: Submission) -> FormResult:
    note = submission.text("note")
    if not note:
        return FormResult(errors=FormErrors({"note": "Say how it was resolved; a resolution note is required."}))
    return await _form_change(core, submission, service.resolve, "resolved", field="note", required=True, note=note)


@on_form(FormId.ESCALATION_NOTE)
async def on_note_form(core: Core, submission: Submission) -> FormResult:
    note = submission.text("note")
    return await _form_change(core, submission, service.add_note, "note added", field="note", required=True,
                              note=note)


@on_form(FormId.ESCALATION_REASSIGN)
async def on_reassign_form(core: Core, submission: Submission) -> FormResult:
    handle = submission.text("assignee")
    return await _form_change(core, submission, service.reassign, "reassigned", field="assignee", required=True,
                              assignee_handle=handle, note=submission.text("note"))
