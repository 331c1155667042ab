"""The ``announce`` command, the announcement form, and the Acknowledge / Have a question / Training done buttons.

Rights are checked here and in the service on every command, submission and press, whatever the
message showed: client managers and admins announce and edit; a site's own partner users (or
their partner's leads) acknowledge and mark training; partner users list and show only the
announcements addressed to their partner, with their own partner's sites only.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.actions import ActionId, FormId
from bot.commands import CommandError, CommandRequest, command, suggest
from bot.compose import announcement as compose
from bot.core import Core
from bot.domain.access import AccessDenied, Actor, require_registered
from bot.domain.announcements import AUDIENCES, CATEGORIES, CHANNELS, Audience, parse_ref
from bot.grammar import visible_partners
from bot.interactions import ActionResult, FormResult, Press, Submission, on_action, on_form
from bot.messages import FormErrors, Message, OpenForm, Reply
from bot.services import announcements as service
from bot.services.announcements import client_timezone
from bot.store.announcements import Announcement, AnnouncementPartner, AnnouncementSite
from bot.store.models import Partner, Site

USAGE = "announce | announce list [open|all] | announce show AN-12 | announce edit AN-12 | announce ack AN-12 <site>"
PARTNER_REFUSAL = ("Announcements go from the client to partner sites, so only client managers and admins send "
                   "them. You can see the ones addressed to you with `announce list`.")


def _require_sender(actor: Actor) -> None:
    require_registered(actor)
    if not actor.is_client_side:
        raise AccessDenied(PARTNER_REFUSAL)


@command("announce", summary="Announce a product, procedure or CRM change to partner sites; list, show, edit",
         usage=USAGE, examples=("announce", "announce list", "announce list all", "announce show AN-12",
                                "announce edit AN-12"))
async def announce_command(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    if not request.args:
        return await _form(core, actor)
    sub, rest = request.args[0].lower(), request.args[1:]
    if sub == "list":
        return await _list(core, actor, rest)
    if sub in ("show", "edit", "ack"):
        if not rest:
            raise CommandError(f"Which announcement? Give its reference, e.g. `announce {sub} AN-12`.", usage=USAGE)
        if sub == "show":
            return await _show(core, actor, rest[0])
        if sub == "edit":
            return await _edit_form(core, actor, rest[0])
        return await _ack_command(core, actor, rest[0], " ".join(rest[1:]))
    if parse_ref(sub) is not None and sub.startswith("an-"):
        return await _show(core, actor, sub)
    raise CommandError(f"I don't know what '{request.args[0]}' means for announce.",
                       suggestions=suggest(sub, ["list", "show", "edit", "ack"]), usage=USAGE)


async def _form_options(core: Core, actor: Actor) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    async with core.db.session() as session:
        partners = await visible_partners(session, actor)
        names = {p.id: p for p in partners}
        sites = (await session.execute(select(Site).where(Site.partner_id.in_(list(names) or [-1]))
                                       .order_by(Site.name))).scalars().all()
        tz = await client_timezone(session)
    site_options = sorted(((f"{names[s.partner_id].slug}/{s.key}", f"{names[s.partner_id].name} / {s.name}")
                           for s in sites), key=lambda o: o[1])
    return [(p.slug, p.name) for p in partners], site_options, tz


async def _form(core: Core, actor: Actor) -> OpenForm:
    _require_sender(actor)
    partners, sites, tz = await _form_options(core, actor)
    if not partners:
        raise CommandError("There is no active partner to announce anything to.")
    return OpenForm(compose.announce_form(partners=partners, sites=sites, client_tz=tz))


async def _get_visible(session, actor: Actor, ref: str) -> Announcement:  # noqa: ANN001 - AsyncSession
    number = parse_ref(ref)
    if number is None:
        raise CommandError(f"'{ref}' is not an announcement reference; they look like AN-12.")
    announcement = await session.get(Announcement, number)
    if announcement is not None and not actor.is_client_side:
        if actor.partner_id is None or await service.addressed(session, number, actor.partner_id) is None:
            announcement = None
    if announcement is None:
        raise CommandError(f"There is no announcement AN-{number} you can see.")
    return announcement


async def _edit_form(core: Core, actor: Actor, ref: str) -> OpenForm:
    _require_sender(actor)
    async with core.db.session() as session:
        announcement = await _get_visible(session, actor, ref)
        tz = await client_timezone(session)
    return OpenForm(compose.announce_form(partners=[], sites=[], client_tz=tz, edit=announcement))


async def _progress_for(session, actor: Actor, announcement: Announcement) -> tuple[str, bool]:  # noqa: ANN001
    """Return (progress text, open?) over the sites the actor may see."""
    ids = None if actor.is_client_side else [actor.partner_id]
    lines = await service.site_lines(session, announcement, ids)
    waiting = announcement.ack_deadline is not None and any(s.row.acknowledged_at is None for s in lines)
    return compose.progress(lines, announcement), waiting


async def _list(core: Core, actor: Actor, args: tuple[str, ...]) -> Message:
    scope = "open"
    for arg in args:
        if arg.lower() not in ("open", "all"):
            raise CommandError(f"I don't know what '{arg}' means here.", usage="announce list [open|all]")
        scope = arg.lower()
    async with core.db.session() as session:
        stmt = select(Announcement).order_by(Announcement.id.desc()).limit(200)
        if not actor.is_client_side:
            stmt = stmt.join(AnnouncementPartner, AnnouncementPartner.announcement_id == Announcement.id).where(
                AnnouncementPartner.partner_id == (actor.partner_id or -1))
        rows = []
        for announcement in (await session.execute(stmt)).scalars().all():
            text, waiting = await _progress_for(session, actor, announcement)
            if scope == "all" or waiting:
                rows.append((announcement, text))
            if len(rows) >= 30:
                break
        tz = await _viewer_tz(session, actor)
    return compose.announcement_list(rows, scope=f"{'open ' if scope == 'open' else ''}announcements", tz=tz)


async def _viewer_tz(session, actor: Actor) -> str:  # noqa: ANN001 - AsyncSession
    """Return the zone times are shown in: the partner's for its users, the client's otherwise."""
    if actor.is_partner and actor.partner_id is not None:
        partner = await session.get(Partner, actor.partner_id)
        if partner is not None:
            return partner.timezone
    return await client_timezone(session)


async def _show(core: Core, actor: Actor, ref: str) -> Message:
    async with core.db.session() as session:
        announcement = await _get_visible(session, actor, ref)
        if actor.is_client_side:
            tz = await client_timezone(session)
            lines = await service.site_lines(session, announcement)
        else:
            # partner users get their partner's card, buttons included: the console and a Teams chat can
            # acknowledge from here, and every press is re-authorized like one on the channel card
            partner = await session.get(Partner, actor.partner_id)
            return await service.partner_card(session, announcement, partner)
    return compose.announcement_detail(announcement, tz=tz, lines=lines, with_partner=actor.is_client_side,
                                       audience=service.audience_text(announcement) if actor.is_client_side else None)


async def _ack_command(core: Core, actor: Actor, ref: str, site: str) -> Message:
    """``announce ack AN-12 krakow``: the typed way to acknowledge, for cards with many waiting sites."""
    async with core.db.session() as session:
        announcement = await _get_visible(session, actor, ref)
        if not actor.is_partner:
            raise AccessDenied("Only the site's own team acknowledges; client managers and admins see the status.")
        rows = await service.sites_for(session, announcement.id, actor.partner_id, actor)
    if not site and len(rows) == 1:
        chosen = rows[0]
    else:
        chosen = next((r for r in rows if site.lower() in (r.site_key.lower(), r.site_name.lower())), None)
    if chosen is None:
        names = ", ".join(r.site_key or r.site_name for r in rows) or "none"
        raise CommandError(f"Which site? You can acknowledge {announcement.ref} for: {names}.")
    outcome = await service.acknowledge(core.db, site_row_id=chosen.id, actor=actor, now=core.clock.now())
    if not outcome.first:
        return compose.already_acknowledged(outcome.announcement, outcome.row)
    return compose.acknowledged_reply(outcome.announcement, outcome.row.site_name)


# ---- the form ---------------------------------------------------------------------------------------

def _many(submission: Submission, key: str) -> list[str]:
    value = submission.values.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _time(raw: str, default: time) -> time | None:
    if not raw:
        return default
    try:
        return time.fromisoformat(raw[:5]) if len(raw) >= 4 else None
    except ValueError:
        return None


def _moment(submission: Submission, errors: dict[str, str], date_key: str, time_key: str | None, default: time,
            tz: str, what: str) -> datetime | None:
    day = _date(submission.text(date_key))
    if day is None:
        errors[date_key] = f"Give the {what} date as YYYY-MM-DD."
        return None
    at = _time(submission.text(time_key), default) if time_key else default
    if at is None:
        errors[time_key] = f"Give the {what} time as HH:MM (24-hour), or leave it empty for {default:%H:%M}."
        return None
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


async def _read_draft(core: Core, submission: Submission, *, editing: bool) -> tuple[service.Draft | None,
                                                                                      dict[str, str]]:
    errors: dict[str, str] = {}
    now = core.clock.now()
    async with core.db.session() as session:
        tz = await client_timezone(session)
        partners = {p.slug: p for p in await visible_partners(session, submission.actor)}
        sites = {f"{partners[p.slug].slug}/{s.key}": s for p in partners.values() for s in
                 (await session.execute(select(Site).where(Site.partner_id == p.id))).scalars().all()}
    title = submission.text("title")
    if not title:
        errors["title"] = "Give the change a short title."
    elif len(title) > 150:
        errors["title"] = f"Keep the title under 150 characters (this is {len(title)})."
    body = submission.text("body")
    if not body:
        errors["body"] = "Say what changes for agents."
    elif len(body) > 3000:
        errors["body"] = f"Keep it under 3000 characters (this is {len(body)}); put the rest behind a link."
    category = submission.text("category").lower()
    if category not in CATEGORIES:
        errors["category"] = "Choose a category: " + ", ".join(CATEGORIES.values()) + "."
    effective = _moment(submission, errors, "effective_date", "effective_time", time(9, 0), tz, "effective")
    link = submission.text("link")
    if link and (not link.lower().startswith(("http://", "https://")) or " " in link or len(link) > 500):
        errors["link"] = "A link starts with https:// (or http://), has no spaces and is under 500 characters."
    deadline = None
    if submission.text("requires_ack").lower() in ("yes", "true", "1", "on"):
        deadline = _moment(submission, errors, "ack_date", "ack_time", time(17, 0), tz, "acknowledgement")
        if deadline is not None and deadline <= now and not editing:
            errors["ack_date"] = "The acknowledgement deadline must be in the future."
    training = None
    if submission.text("requires_training").lower() in ("yes", "true", "1", "on"):
        training = _moment(submission, errors, "training_date", None, time(23, 59), tz, "training due")
        if training is not None and training <= now and not editing:
            errors["training_date"] = "The training due date must be in the future."
    audience, doc = Audience(), None
    if not editing:
        kind = submission.text("audience").lower() or "all"
        chosen_partners, chosen_sites = _many(submission, "partners"), _many(submission, "sites")
        channels = [c.lower() for c in _many(submission, "channels")]
        if kind not in AUDIENCES:
            errors["audience"] = "Choose an audience: " + ", ".join(AUDIENCES.values()) + "."
        bad = [p for p in chosen_partners if p not in partners]
        if bad:
            errors["partners"] = f"There is no partner {', '.join(bad)}."
        elif kind == "partners" and not chosen_partners:
            errors["partners"] = "Choose at least one partner (or the audience All partners)."
        bad = [s for s in chosen_sites if s not in sites]
        if bad:
            errors["sites"] = f"There is no site {', '.join(bad)}; sites look like acme/krakow."
        elif kind == "sites" and not chosen_sites:
            errors["sites"] = "Choose at least one site (or another audience)."
        bad = [c for c in channels if c not in CHANNELS]
        if bad:
            errors["channels"] = f"Channels are {', '.join(CHANNELS)}; not {', '.join(bad)}."
        audience = Audience(kind=kind, partner_ids=frozenset(partners[p].id for p in chosen_partners if p in partners),
                            site_ids=frozenset(sites[s].id for s in chosen_sites if s in sites),
                            channels=frozenset(channels))
        doc = {"kind": kind, "partners": chosen_partners if kind == "partners" else [],
               "sites": chosen_sites if kind == "sites" else [], "channels": channels}
    if errors:
        return None, errors
    return service.Draft(title=title, body=body, category=category, effective_at=effective, link=link,
                         ack_deadline=deadline, training_due=training, audience=audience, audience_doc=doc), {}


@on_form(FormId.ANNOUNCEMENT)
async def on_announce_form(core: Core, submission: Submission) -> FormResult:
    """Check every field; send (or edit) nothing unless all are right."""
    actor = submission.actor
    _require_sender(actor)
    editing = parse_ref(submission.state) if submission.state else None
    draft, errors = await _read_draft(core, submission, editing=editing is not None)
    if draft is None:
        return FormResult(errors=FormErrors(errors))
    now = core.clock.now()
    if editing is not None:
        try:
            announcement, changes, told = await service.edit_announcement(core.db, announcement_id=editing,
                                                                          actor=actor, draft=draft, now=now)
        except service.AnnouncementNotFound as exc:
            return FormResult(reply=compose.refused(str(exc)))
        return FormResult(reply=compose.edited_confirmation(announcement, changes=changes, told=told),
                          extra={"announcement_id": announcement.id, "changes": changes, "told": told})
    try:
        announcement = await service.create_announcement(core.db, actor=actor, draft=draft, now=now)
    except ValueError as exc:
        return FormResult(errors=FormErrors({"audience": str(exc) + " Choose other partners, sites or channels."}))
    async with core.db.session() as session:
        rows = (await session.execute(select(AnnouncementSite.partner_id).where(
            AnnouncementSite.announcement_id == announcement.id))).scalars().all()
        tz = await client_timezone(session)
    return FormResult(reply=compose.sent_confirmation(announcement, partners=len(set(rows)), sites=len(rows), tz=tz),
                      extra={"announcement_id": announcement.id, "ref": announcement.ref})


def _site_value(value: str) -> int | None:
    raw = value.rsplit(":", 1)[-1]
    return int(raw) if raw.isdigit() else None


def _partner_value(value: str) -> tuple[int, int] | None:
    parts = value.split(":")
    if len(parts) < 2 or not parts[-1].isdigit() or not parts[-2].isdigit():
        return None
    return int(parts[-2]), int(parts[-1])


@on_action(ActionId.ANNOUNCEMENT_ACKNOWLEDGE)
async def on_acknowledge(core: Core, press: Press) -> ActionResult:
    require_registered(press.actor)
    row_id = _site_value(press.value)
    if row_id is None:
        return ActionResult(reply=compose.refused("That button carries no announcement."))
    try:
        outcome = await service.acknowledge(core.db, site_row_id=row_id, actor=press.actor, now=core.clock.now())
    except service.AnnouncementNotFound as exc:
        return ActionResult(reply=compose.refused(str(exc)))
    if not outcome.first:
        return ActionResult(replace=outcome.card, reply=compose.already_acknowledged(outcome.announcement, outcome.row))
    return ActionResult(replace=outcome.card, reply=compose.acknowledged_reply(outcome.announcement,
                                                                               outcome.row.site_name))


async def _addressed_to_presser(core: Core, press: Press) -> tuple[Announcement, int]:
    require_registered(press.actor)
    ids = _partner_value(press.value)
    async with core.db.session() as session:
        announcement = await session.get(Announcement, ids[0]) if ids else None
        delivery = await service.addressed(session, ids[0], ids[1]) if announcement is not None else None
    if delivery is None or not press.actor.can_see_partner(ids[1]):
        raise AccessDenied("That announcement is not addressed to you.")
    if not (press.actor.is_partner and press.actor.partner_id == ids[1]):
        raise AccessDenied("Only the partner's own team uses this button; client managers see the status on the card.")
    return announcement, ids[1]


@on_action(ActionId.ANNOUNCEMENT_QUESTION)
async def on_question(core: Core, press: Press) -> ActionResult:
    announcement, partner_id = await _addressed_to_presser(core, press)
    return ActionResult(open_form=OpenForm(compose.question_form(announcement, partner_id)))


@on_action(ActionId.ANNOUNCEMENT_TRAINING)
async def on_training(core: Core, press: Press) -> ActionResult:
    announcement, partner_id = await _addressed_to_presser(core, press)
    async with core.db.session() as session:
        rows = [r for r in await service.sites_for(session, announcement.id, partner_id, press.actor)
                if r.trained_at is None]
    if not rows:
        return ActionResult(reply=compose.refused("Every site you act for is already marked trained."))
    return ActionResult(open_form=OpenForm(compose.training_form(announcement, partner_id,
                                                                 [(str(r.id), r.site_name) for r in rows])))


@on_form(FormId.ANNOUNCEMENT_QUESTION)
async def on_question_form(core: Core, submission: Submission) -> FormResult:
    require_registered(submission.actor)
    ids = _partner_value(submission.state)
    question = submission.text("question")
    if not question:
        return FormResult(errors=FormErrors({"question": "Type your question."}))
    if len(question) > 2000:
        return FormResult(errors=FormErrors({"question": "Keep the question under 2000 characters."}))
    if ids is None:
        return FormResult(reply=compose.refused("That form carries no announcement."))
    try:
        announcement = await service.ask_question(core.db, announcement_id=ids[0], partner_id=ids[1],
                                                  question=question, actor=submission.actor, now=core.clock.now())
    except service.AnnouncementNotFound as exc:
        return FormResult(reply=compose.refused(str(exc)))
    return FormResult(reply=compose.question_posted(announcement, thread=True))


@on_form(FormId.ANNOUNCEMENT_TRAINING)
async def on_training_form(core: Core, submission: Submission) -> FormResult:
    require_registered(submission.actor)
    errors = {}
    raw_site, raw_agents = submission.text("site"), submission.text("agents")
    if not raw_site.isdigit():
        errors["site"] = "Choose the site that finished the training."
    try:
        agents = int(float(raw_agents))
        if agents < 0 or agents != float(raw_agents):
            raise ValueError
    except ValueError:
        errors["agents"] = "Give the number of agents trained as a whole number (0 or more)."
    if errors:
        return FormResult(errors=FormErrors(errors))
    try:
        outcome = await service.mark_trained(core.db, site_row_id=int(raw_site), agents=agents,
                                             actor=submission.actor, now=core.clock.now())
    except service.AnnouncementNotFound as exc:
        return FormResult(reply=compose.refused(str(exc)))
    if not outcome.first:
        return FormResult(reply=compose.refused(f"{outcome.row.site_name} was already marked trained by "
                                                f"{outcome.row.trained_by_name}."))
    return FormResult(reply=compose.trained_reply(outcome.announcement, outcome.row))

