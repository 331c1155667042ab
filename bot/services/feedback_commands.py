"""The ``feedback`` command, the pulse form and its button.

Rights are checked here on every command, submission and press, whatever the message showed:
partner users answer for their own partner only; results: client side any partner, partner users
their own partner only.
"""

from __future__ import annotations

from bot.actions import ActionId, FormId
from bot.commands import CommandError, CommandRequest, command, suggest
from bot.compose import feedback as compose
from bot.core import Core
from bot.domain.access import require_registered
from bot.domain.pulse import KEYS, parse_period
from bot.grammar import partners_by_token, resolve_partner, visible_partners
from bot.interactions import ActionResult, FormResult, Press, Submission, on_action, on_form
from bot.messages import FormErrors, Message, OpenForm, Reply
from bot.services import feedback as service
from bot.store.feedback import Pulse
from bot.store.models import Partner

USAGE = "feedback | feedback results [partner] [period]"
PERIOD_HINT = "A period looks like 2026-11 (monthly) or 2026-Q4 (quarterly)."


@command("feedback", summary="Tell the client how working together goes, or see feedback results", usage=USAGE,
         examples=("feedback", "feedback results", "feedback results acme", "feedback results acme 2026-11"))
async def feedback_command(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    if not request.args:
        return await _form(core, request)
    if request.args[0].lower() == "results":
        return await _results(core, request, request.args[1:])
    close = suggest(request.args[0].lower(), ["results"])
    raise CommandError(f"`feedback {request.text}`: I only know `feedback` (the form) and `feedback results`.",
                       suggestions=close or ["results"], usage=USAGE)


async def _form(core: Core, request: CommandRequest) -> OpenForm:
    actor = request.actor
    service.require_partner_user(actor)
    async with core.db.session() as session:
        partner = await session.get(Partner, actor.partner_id)
        pulse = await service.waiting_pulse(session, actor)
        allowed = pulse.anonymous_allowed if pulse else await service.anonymous_allowed(session, actor.partner_id)
    return OpenForm(compose.feedback_form(
        partner_name=partner.name if partner else "Your team", period=pulse.period if pulse else None,
        pulse_id=pulse.id if pulse else None, anonymous_allowed=allowed))


async def _results(core: Core, request: CommandRequest, args: tuple[str, ...]) -> Message:
    actor = request.actor
    partner, period = None, None
    async with core.db.session() as session:
        tokens = await partners_by_token(session, actor)
        for arg in args:
            if arg.lower() in tokens and partner is None:
                partner = await resolve_partner(session, arg, actor)
            elif arg[:1].isdigit() and period is None:
                period = parse_period(arg)
                if period is None:
                    raise CommandError(f"'{arg}' is not a period. {PERIOD_HINT}",
                                       usage="feedback results [partner] [period]")
            else:
                visible = await visible_partners(session, actor)
                raise CommandError(f"'{arg}' is not a partner you can see or a period. {PERIOD_HINT}",
                                   suggestions=suggest(arg.lower(), [p.slug for p in visible]),
                                   usage="feedback results [partner] [period]")
        if partner is not None:
            partners = [partner]
        elif actor.is_partner:
            own = await session.get(Partner, actor.partner_id) if actor.partner_id else None
            partners = [own] if own is not None else []
        else:
            partners = await visible_partners(session, actor)
        if not partners:
            raise CommandError("There is no partner whose feedback you can see.")
        try:
            parts = [await service.partner_results(session, p, period, core.clock.now()) for p in partners]
        except service.FeedbackRefused as exc:
            raise CommandError(str(exc)) from exc
    return compose.results(parts)



def _pulse_id(raw: str) -> int | None:
    tail = raw.rsplit(":", 1)[-1]
    return int(tail) if raw.startswith("pulse:") and tail.isascii() and tail.isdigit() and len(tail) <= 9 else None


@on_form(FormId.FEEDBACK)
async def on_feedback_form(core: Core, submission: Submission) -> FormResult:
    """Check every field; store nothing unless all are right."""
    actor = submission.actor
    try:
        service.require_partner_user(actor)
    except service.AccessDenied as exc:
        return FormResult(reply=compose.refused(str(exc)))
    errors: dict[str, str] = {}
    ratings: dict[str, int | None] = {}
    for key in KEYS:
        raw = submission.text(key)
        if not raw:
            ratings[key] = None
        elif raw.isdigit() and 1 <= int(raw) <= 5:
            ratings[key] = int(raw)
        else:
            errors[key] = "A rating is a whole number from 1 to 5 (5 best), or leave it empty."
    comment = submission.text("comment")
    if len(comment) > 3000:
        errors["comment"] = f"Keep it under 3000 characters (this is {len(comment)})."
    if not errors and all(v is None for v in ratings.values()) and not comment:
        errors["comment"] = "Give at least one rating or write a comment."
    if errors:
        return FormResult(errors=FormErrors(errors))
    anonymous = submission.text("anonymous").lower() in ("yes", "true", "1", "on")
    pulse_id = _pulse_id(submission.state)
    try:
        row = await service.record_answer(core.db, actor=actor, pulse_id=pulse_id, ratings=ratings, comment=comment,
                                          anonymous=anonymous, now=core.clock.now())
    except service.FeedbackRefused as exc:
        return FormResult(reply=compose.refused(str(exc)))
    period = None
    if pulse_id is not None:
        async with core.db.session() as session:
            pulse = await session.get(Pulse, pulse_id)
            period = pulse.period if pulse else None
    return FormResult(reply=compose.confirmation(period=period, anonymous=row.anonymous),
                      extra={"response_id": row.id})


@on_action(ActionId.FEEDBACK_OPEN_FORM)
async def on_open_form(core: Core, press: Press) -> ActionResult:
    pulse_id = _pulse_id(press.value)
    if pulse_id is None:
        return ActionResult(reply=compose.refused("That button carries no feedback pulse."))
    try:
        service.require_partner_user(press.actor)
        async with core.db.session() as session:
            pulse, _ = await service.check_pulse_for(session, press.actor, pulse_id)
            partner = await session.get(Partner, pulse.partner_id)
    except (service.FeedbackRefused, service.AccessDenied) as exc:  # told to the presser as is
        return ActionResult(reply=compose.refused(str(exc)))
    return ActionResult(open_form=OpenForm(compose.feedback_form(
        partner_name=partner.name, period=pulse.period, pulse_id=pulse.id,
        anonymous_allowed=pulse.anonymous_allowed)))
