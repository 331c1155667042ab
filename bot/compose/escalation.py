"""Escalation messages and forms: the channel card, filing/resolve/note/reassign forms, answers, DMs.

Pure functions: data in, Message/Form out. Times are shown in the partner's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import ActionId, FormId
from bot.domain.escalation import Category, Move, PlanStep, Severity, State
from bot.messages import (
    Action,
    ButtonStyle,
    Fact,
    FieldKind,
    Form,
    FormField,
    Message,
    Option,
    Section,
)
from bot.messages import Severity as Loudness
from bot.store.escalations import Escalation, EscalationEvent

_LOUDNESS = {
    Severity.P1: Loudness.CRITICAL, Severity.P2: Loudness.CRITICAL,
    Severity.P3: Loudness.WARNING, Severity.P4: Loudness.INFO,
}
_STATE_TEXT = {
    State.OPEN: "Open, waiting for acknowledgement",
    State.ACKNOWLEDGED: "Acknowledged",
    State.RESOLVED: "Resolved",
    State.CLOSED: "Closed",
}
_EVENT_TEXT = {
    Move.FILE: "filed it",
    Move.ACKNOWLEDGE: "acknowledged it",
    Move.ESCALATE: "escalated it by hand",
    Move.AUTO_ESCALATE: "escalated it: nobody acknowledged in time",
    Move.REPEAT: "reminded the current level",
    Move.REASSIGN: "reassigned it",
    Move.NOTE: "added a note",
    Move.RESOLVE: "resolved it",
    Move.REOPEN: "reopened it",
    Move.CLOSE: "closed it",
}
SYSTEM_NAME = "Liaison"


@dataclass(frozen=True, slots=True)
class CardContext:
    """What the card shows besides the row: names, the plan, who was told."""

    partner_name: str
    tz: ZoneInfo
    level_names: tuple[str, ...] = ()
    notified: tuple[str, ...] = ()
    plan: tuple[PlanStep, ...] = ()
    repeat_every: str | None = None  # "10m" when the current level is reminded


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    """Format an instant in the partner's zone, e.g. "Mon 16 Nov 11:00 CET"."""
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%a %d %b %H:%M %Z")


def level_label(level: int, names: tuple[str, ...]) -> str:
    name = names[level] if level < len(names) else ""
    return f"L{level + 1} {name}".strip()


def _severity_text(severity: str) -> str:
    sev = Severity(severity)
    return f"{sev.value} - {sev.description}"


def _category_text(category: str) -> str:
    return Category(category).label


def card_actions(esc: Escalation, *, top_level: int) -> tuple[Action, ...]:
    """Return the buttons that fit the state (the server re-checks every press anyway)."""
    value = f"escalation:{esc.id}"
    ack = Action(ActionId.ESCALATION_ACKNOWLEDGE, "Acknowledge", value, ButtonStyle.PRIMARY)
    up = Action(ActionId.ESCALATION_ESCALATE_NOW, "Escalate now", value, ButtonStyle.DANGER)
    reassign = Action(ActionId.ESCALATION_REASSIGN, "Reassign", value)
    note = Action(ActionId.ESCALATION_ADD_NOTE, "Add note", value)
    resolve = Action(ActionId.ESCALATION_RESOLVE, "Resolve", value, ButtonStyle.PRIMARY)
    reopen = Action(ActionId.ESCALATION_REOPEN, "Reopen", value)
    state = esc.state
    if state is State.OPEN:
        return (ack, up, reassign, note) if esc.level < top_level else (ack, reassign, note)
    if state is State.ACKNOWLEDGED:
        return (resolve, reassign, note)
    if state is State.RESOLVED:
        return (reopen, note)
    return (reopen,)


def escalation_card(esc: Escalation, ctx: CardContext) -> Message:
    """Return the channel card: severity, partner, title, status, level, who was told, the plan."""
    facts = [
        Fact("Severity", _severity_text(esc.severity)),
        Fact("Partner", ctx.partner_name),
        Fact("Category", _category_text(esc.category)),
        Fact("Status", _STATE_TEXT[esc.state]),
        Fact("Level", level_label(esc.level, ctx.level_names)),
        Fact("Filed by", f"{esc.filer_name or 'unknown'} at {when(esc.opened_at, ctx.tz)}"),
    ]
    if esc.assignee_name:
        facts.append(Fact("Assignee", esc.assignee_name))
    if esc.acknowledged_at:
        facts.append(Fact("Acknowledged", when(esc.acknowledged_at, ctx.tz)))
    if esc.resolved_at and esc.state in (State.RESOLVED, State.CLOSED):
        facts.append(Fact("Resolved", when(esc.resolved_at, ctx.tz)))
    if ctx.notified:
        facts.append(Fact("Notified", ", ".join(ctx.notified)))
    if esc.link:
        facts.append(Fact("Link", esc.link))
    sections = [Section(text=esc.description or None, facts=tuple(facts))]
    sections.append(Section(heading="Plan", bullets=plan_lines(esc, ctx)))
    if esc.resolution_note and esc.state in (State.RESOLVED, State.CLOSED):
        sections.append(Section(heading="Resolution", text=esc.resolution_note))
    top = max(len(ctx.level_names) - 1, 0)
    return Message(
        title=f"{esc.ref} [{esc.severity}] {esc.title}",
        summary=f"{ctx.partner_name} - {_STATE_TEXT[esc.state]} - {level_label(esc.level, ctx.level_names)}",
        severity=_LOUDNESS[Severity(esc.severity)] if esc.state is State.OPEN else Loudness.INFO,
        sections=tuple(sections),
        actions=card_actions(esc, top_level=top),
        context=f"{esc.ref} - times in {ctx.tz.key}",
        thread_key=f"escalation:{esc.id}",
        ephemeral=False,
    )


def plan_lines(esc: Escalation, ctx: CardContext) -> tuple[str, ...]:
    """Say what happens next and when."""
    state = esc.state
    if state is State.ACKNOWLEDGED:
        return ("Acknowledged: no further escalation. Next: resolve it with a note.",)
    if state is State.RESOLVED:
        closes = f" on {when(esc.close_at, ctx.tz)}" if esc.close_at else ""
        return (f"Resolved: closes by itself{closes} unless reopened.",)
    if state is State.CLOSED:
        return ("Closed. Reopen it if the problem comes back.",)
    lines = []
    for step in ctx.plan:
        label = level_label(step.level, ctx.level_names)
        if step.at is None:
            lines.append(f"Now: {label}")
        else:
            lines.append(f"If nobody acknowledges by {when(step.at, ctx.tz)}: {label}")
    if ctx.repeat_every and esc.repeat_at:
        lines.append(f"Reminder every {ctx.repeat_every} while unacknowledged; next {when(esc.repeat_at, ctx.tz)}")
    if not lines:
        lines.append("No escalation policy for this partner: only the escalation channel is told.")
    elif len(ctx.plan) <= 1:
        lines.append("This is the top level: it stays here until someone acknowledges.")
    return tuple(lines)


def _event_line(event: EscalationEvent, *, ref: str, tz: ZoneInfo, level_names: tuple[str, ...]) -> str:
    who = event.actor_name or SYSTEM_NAME
    what = _EVENT_TEXT.get(Move(event.kind), event.kind)
    line = f"{when(event.at, tz)} - {who} {what} ({level_label(event.level, level_names)}"
    if event.from_state and event.from_state != event.to_state:
        line += f", {event.from_state} -> {event.to_state}"
    line += ")"
    if event.note:
        line += f": {event.note}"
    return line


def event_line(event: EscalationEvent, *, ref: str, tz: ZoneInfo, level_names: tuple[str, ...]) -> str:
    """Phrase one audit event as the card's thread does ("Mon 16 Nov 11:00 CET - Ana acknowledged (L1 ...)")."""
    return _event_line(event, ref=ref, tz=tz, level_names=level_names)


def history_entry(esc: Escalation, event: EscalationEvent, ctx: CardContext) -> Message:
    """Return the thread reply recording one change."""
    line = _event_line(event, ref=esc.ref, tz=ctx.tz, level_names=ctx.level_names)
    return Message(title=f"{esc.ref}: {_EVENT_TEXT.get(Move(event.kind), event.kind)}", summary=line,
                   thread_key=f"escalation:{esc.id}", ephemeral=False, fallback=f"{esc.ref}: {line}")


def filer_update(esc: Escalation, event: EscalationEvent, ctx: CardContext) -> Message:
    """Return the direct message telling the filer what changed."""
    line = _event_line(event, ref=esc.ref, tz=ctx.tz, level_names=ctx.level_names)
    return Message(
        title=f"Your escalation {esc.ref} changed",
        summary=line,
        sections=(Section(facts=(Fact("Title", esc.title), Fact("Status", _STATE_TEXT[esc.state]),
                                 Fact("Level", level_label(esc.level, ctx.level_names)))),),
        context=f"Type `escalate show {esc.ref}` for the whole history.",
        ephemeral=False,
    )


def level_notice(esc: Escalation, ctx: CardContext, *, reminder: bool) -> Message:
    """Return the message that tells a level's people (and channel) it is their turn."""
    head = "Reminder: still unacknowledged" if reminder else "Needs your attention"
    card = escalation_card(esc, ctx)
    return Message(
        title=f"{head}: {esc.ref} [{esc.severity}] {esc.title}",
        summary=f"{ctx.partner_name} - you are {level_label(esc.level, ctx.level_names)}. Acknowledge it if you are on it.",
        severity=card.severity,
        sections=card.sections,
        actions=card.actions,
        context=card.context,
        ephemeral=False,
    )


def filed_confirmation(esc: Escalation, ctx: CardContext) -> Message:
    """Return the filer's confirmation with the reference."""
    return Message(
        title=f"Filed {esc.ref}",
        summary=f"{esc.ref} [{esc.severity}] {esc.title} is open for {ctx.partner_name}. "
                f"{level_label(esc.level, ctx.level_names)} has been told; you'll get a message on every change.",
        severity=Loudness.SUCCESS,
        sections=(Section(heading="Plan", bullets=plan_lines(esc, ctx)),),
        context=f"Type `escalate show {esc.ref}` to see its history.",
    )


def done(esc: Escalation, what: str) -> Message:
    """Return a short private confirmation of a button or form action."""
    return Message(title=f"{esc.ref}: {what}", summary=f"{esc.title} - now {esc.status}.", severity=Loudness.SUCCESS)


def refused(reason: str) -> Message:
    return Message(title="Can't do that", summary=reason + " Nothing was changed.", severity=Loudness.WARNING)


# ---- forms -------------------------------------------------------------------------------

def severity_options() -> tuple[Option, ...]:
    return tuple(Option(s.value, s.value, s.description) for s in Severity)


def category_options() -> tuple[Option, ...]:
    return tuple(Option(c.value, c.label) for c in Category)


@dataclass(frozen=True, slots=True)
class FilingPrefill:
    """Values to preset in the filing form (e.g. from an SLA breach)."""

    partner: str | None = None
    severity: str | None = None
    category: str | None = None
    title: str | None = None
    description: str | None = None
    link: str | None = None
    breach_episode_id: int | None = None


def filing_form(*, partners: list[tuple[str, str]], fixed_partner: str | None = None,
                prefill: FilingPrefill | None = None) -> Form:
    """Return the filing form; ``fixed_partner`` (a partner user's own slug) is shown read-only."""
    pre = prefill or FilingPrefill()
    partner_initial = fixed_partner or pre.partner
    state = f"breach:{pre.breach_episode_id}" if pre.breach_episode_id else ""
    fields = (
        FormField("partner", "Partner", FieldKind.SELECT,
                  options=tuple(Option(slug, name) for slug, name in partners),
                  initial=partner_initial, read_only=fixed_partner is not None),
        FormField("severity", "Severity", FieldKind.SELECT, options=severity_options(),
                  initial=pre.severity or Severity.P3.value,
                  hint="P1 ignores business and quiet hours and wakes people up."),
        FormField("category", "Category", FieldKind.SELECT, options=category_options(),
                  initial=pre.category),
        FormField("title", "Title", initial=pre.title, max_length=200,
                  placeholder="What is wrong, in a few words"),
        FormField("description", "Description", FieldKind.TEXTAREA, required=False,
                  initial=pre.description, max_length=3000,
                  placeholder="What happened, since when, who is affected, what you tried"),
        FormField("link", "Link", FieldKind.URL, required=False, initial=pre.link,
                  placeholder="https://... (ticket, dashboard, recording)"),
    )
    intro = "Raise a problem with the partner relationship. The right people are told in order until someone acknowledges."
    if pre.breach_episode_id:
        intro = "Prefilled from the SLA breach; adjust anything before filing."
    return Form(FormId.ESCALATION_FILE, "File an escalation", fields, submit_label="File", intro=intro, state=state)


def resolve_form(esc: Escalation) -> Form:
    return Form(FormId.ESCALATION_RESOLVE, f"Resolve {esc.ref}",
                (FormField("note", "Resolution note", FieldKind.TEXTAREA, max_length=3000,
                           placeholder="What was done and what prevents it happening again"),),
                submit_label="Resolve", intro=esc.title, state=str(esc.id))


def note_form(esc: Escalation) -> Form:
    return Form(FormId.ESCALATION_NOTE, f"Add a note to {esc.ref}",
                (FormField("note", "Note", FieldKind.TEXTAREA, max_length=3000),),
                submit_label="Add note", intro=esc.title, state=str(esc.id))


def reassign_form(esc: Escalation, *, people: list[tuple[str, str]]) -> Form:
    """Return the reassign form; ``people`` are (handle, name) of users who may see it."""
    return Form(FormId.ESCALATION_REASSIGN, f"Reassign {esc.ref}",
                (FormField("assignee", "New assignee", FieldKind.SELECT,
                           options=tuple(Option(h, n) for h, n in people)),
                 FormField("note", "Why", FieldKind.TEXTAREA, required=False, max_length=1000)),
                submit_label="Reassign", intro=esc.title, state=str(esc.id))


# ---- answers -------------------------------------------------------------------------------

def escalation_list(rows: list[tuple[Escalation, str]], *, scope: str, tz_of: dict[int, ZoneInfo]) -> Message:
    """Return the ``escalate list`` answer; ``rows`` are (escalation, partner name)."""
    if not rows:
        return Message(title="Escalations", summary=f"No {scope}.",
                       context="Type `escalate` to file one.")
    bullets = tuple(
        f"{e.ref} [{e.severity}] {e.title} - {name} - {e.status}, L{e.level + 1} - opened "
        f"{when(e.opened_at, tz_of.get(e.partner_id, ZoneInfo('UTC')))}"
        for e, name in rows
    )
    count = f"{len(rows)} {scope}"
    if len(rows) == 1:  # "1 open escalation", not "1 open escalations"
        count = count.replace("escalations", "escalation", 1)
    return Message(title="Escalations", summary=f"{count}.",
                   sections=(Section(bullets=bullets),),
                   context="Type `escalate show ESC-123` for one escalation's history.")


def escalation_detail(esc: Escalation, events: list[EscalationEvent], ctx: CardContext) -> Message:
    """Return the ``escalate show`` answer: the card's facts and the whole audit trail."""
    card = escalation_card(esc, ctx)
    trail = tuple(_event_line(e, ref=esc.ref, tz=ctx.tz, level_names=ctx.level_names) for e in events)
    return Message(
        title=card.title,
        summary=card.summary,
        severity=card.severity,
        sections=(*card.sections, Section(heading="History", bullets=trail)),
        actions=card.actions,
        context=card.context,
    )
