"""Reverse report messages: the form, the partner-channel card, reminder, nudge, confirmation, list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import ActionId, FormId
from bot.domain.reports import KINDS, duration_text, kind_label, stars
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
    Severity,
)
from bot.store.reports import ReverseReport

FORM_TITLE = "Send a reverse report"
REMINDER_VALUE = "report-reminder:"  # the reminder's own button: pressing it edits the reminder, not into the card


def report_form(*, partners: Sequence[tuple[str, str]], fixed_partner: str | None = None) -> Form:
    """Return the form; ``fixed_partner`` (given in the command) is shown read-only."""
    fields = (
        FormField("partner", "Partner", FieldKind.SELECT,
                  options=tuple(Option(slug, name) for slug, name in partners),
                  initial=fixed_partner, read_only=fixed_partner is not None),
        FormField("kind", "Type", FieldKind.SELECT,
                  options=tuple(Option(key, label) for key, label in KINDS.items())),
        FormField("rating", "Rating (1-5)", FieldKind.SELECT, required=False,
                  options=tuple(Option(str(n), stars(n)) for n in range(5, 0, -1)),
                  hint="Optional: how good was it, 5 best."),
        FormField("text", "What you saw", FieldKind.TEXTAREA, max_length=3000,
                  placeholder="What happened, with an example the team can act on"),
        FormField("link", "Link", FieldKind.URL, required=False,
                  placeholder="https://... (recording, CRM record, ticket)"),
    )
    return Form(FormId.REVERSE_REPORT, FORM_TITLE, fields, submit_label="Send",
                intro="Tell a partner what you see of their work from the client side. "
                      "Their team is asked to acknowledge it within 2 business days.")


def _facts(report: ReverseReport, partner_name: str) -> tuple[Fact, ...]:
    facts = [Fact("Partner", partner_name), Fact("Type", kind_label(report.kind)),
             Fact("Rating", stars(report.rating)), Fact("From", report.author_name or report.author_handle)]
    if report.link:
        facts.append(Fact("Link", report.link))
    return tuple(facts)


def report_card(report: ReverseReport, *, partner_name: str) -> Message:
    """Return the partner-channel post: with an Acknowledge button until someone acknowledges."""
    who = report.author_name or report.author_handle or "the client"
    title = f"{report.ref} Reverse report: {kind_label(report.kind)}"
    sections = [Section(facts=_facts(report, partner_name)), Section(heading="Report", text=report.text)]
    if report.acknowledged_at is not None:
        took = duration_text(report.acknowledged_at - report.sent_at)
        return Message(title=title, summary=f"Acknowledged by {report.acknowledged_name} after {took}.",
                       severity=Severity.SUCCESS, sections=tuple(sections), ephemeral=False,
                       thread_key=f"report:{report.id}",
                       fallback=f"{report.ref} from {who} acknowledged by {report.acknowledged_name} after {took}")
    return Message(
        title=title, summary=f"{who} sent {partner_name} a reverse report. Please acknowledge it.",
        severity=Severity.WARNING if report.kind == "process_issue" else Severity.INFO,
        sections=tuple(sections), ephemeral=False, thread_key=f"report:{report.id}",
        actions=(Action(ActionId.REPORT_ACKNOWLEDGE, "Acknowledge", value=f"report:{report.id}",
                        style=ButtonStyle.PRIMARY),),
        fallback=f"{report.ref} reverse report ({kind_label(report.kind)}) from {who} for {partner_name}",
    )


def client_copy(report: ReverseReport, *, partner_name: str) -> Message:
    """Return the copy for the client's reports channel (no button: acknowledging is the partner's)."""
    return Message(title=f"{report.ref} sent to {partner_name}: {kind_label(report.kind)}",
                   summary=f"{report.author_name or report.author_handle} sent a reverse report.",
                   sections=(Section(facts=_facts(report, partner_name)), Section(heading="Report", text=report.text)),
                   ephemeral=False)


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def sent_confirmation(report: ReverseReport, *, partner_name: str, due_local: str) -> Message:
    return Message(title=f"{report.ref} sent to {partner_name}", severity=Severity.SUCCESS,
                   summary=f"Posted to {_possessive(partner_name)} reports channel. They are asked to acknowledge it by "
                           f"{due_local} their time; you get a message when they do.",
                   sections=(Section(facts=_facts(report, partner_name)),))


def acknowledged_dm(report: ReverseReport, *, partner_name: str) -> Message:
    took = duration_text((report.acknowledged_at or report.sent_at) - report.sent_at)
    return Message(title=f"{report.ref} acknowledged by {partner_name}", severity=Severity.SUCCESS,
                   summary=f"{report.acknowledged_name} acknowledged your {kind_label(report.kind).lower()} "
                           f"report after {took}.", ephemeral=False)


def already_acknowledged(report: ReverseReport) -> Message:
    took = duration_text((report.acknowledged_at or report.sent_at) - report.sent_at)
    return Message(title=f"{report.ref} is already acknowledged",
                   summary=f"{report.acknowledged_name} acknowledged it after {took}. Nothing was changed.")


def acknowledged_reply(report: ReverseReport) -> Message:
    return Message(title=f"{report.ref} acknowledged", severity=Severity.SUCCESS,
                   summary=f"Thanks. {report.author_name or 'The sender'} is told you have seen it.")


def reminder(report: ReverseReport, *, partner_name: str) -> Message:
    who = report.author_name or report.author_handle or "the client"
    return Message(title=f"Reminder: {report.ref} is not acknowledged yet", severity=Severity.WARNING,
                   summary=f"{who} sent {partner_name} a {kind_label(report.kind).lower()} report 2 business "
                           f"days ago and nobody has acknowledged it. Press Acknowledge once the team has read it.",
                   sections=(Section(heading="Report", text=report.text),),
                   actions=(Action(ActionId.REPORT_ACKNOWLEDGE, "Acknowledge", value=f"{REMINDER_VALUE}{report.id}",
                                   style=ButtonStyle.PRIMARY),),
                   ephemeral=False, thread_key=f"report:{report.id}")


def reminder_done(report: ReverseReport) -> Message:
    """Return what the pressed reminder becomes: the button gone, who acknowledged."""
    took = duration_text((report.acknowledged_at or report.sent_at) - report.sent_at)
    return Message(title=f"{report.ref} acknowledged", severity=Severity.SUCCESS,
                   summary=f"Acknowledged by {report.acknowledged_name} after {took}.", ephemeral=False,
                   thread_key=f"report:{report.id}")


def nudge(*, partner_name: str, partner_slug: str, last_sent: datetime | None) -> Message:
    since = (f"Your last reverse report to {partner_name} was on {last_sent:%d %b}."
             if last_sent is not None else f"You have not sent {partner_name} a reverse report in 2 weeks.")
    return Message(title=f"Anything to tell {partner_name}?",
                   summary=f"{since} A short note on lead quality, a customer signal or praise helps their team. "
                           f"Type `report {partner_slug}` to send one.", ephemeral=False)


def refused(reason: str) -> Message:
    return Message(title="Can't do that", summary=reason + " Nothing was changed.", severity=Severity.WARNING)


def report_list(rows: Sequence[tuple[ReverseReport, str, str]], *, scope: str) -> Message:
    """Return ``report list``: rows of (report, partner name, partner timezone)."""
    if not rows:
        return Message(title=f"No {scope}", summary="Send one with `report` or `report <partner>`.")
    bullets = []
    for report, partner_name, tz in rows:
        when = report.sent_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
        state = (f"acknowledged by {report.acknowledged_name}" if report.acknowledged_at else "not acknowledged")
        bullets.append(f"{report.ref} {partner_name} · {kind_label(report.kind)} · {stars(report.rating)} · "
                       f"{when} · {state}")
    title = f"{len(rows)} {scope}" if len(rows) != 1 else f"1 {scope.replace('reports', 'report', 1)}"
    return Message(title=title, sections=(Section(bullets=tuple(bullets)),),
                   context="Show one with `report show RR-12`.")


def report_detail(report: ReverseReport, *, partner_name: str, tz: str) -> Message:
    sent = report.sent_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
    facts = list(_facts(report, partner_name)) + [Fact("Sent", sent)]
    if report.acknowledged_at:
        facts.append(Fact("Acknowledged", f"by {report.acknowledged_name} after "
                                          f"{duration_text(report.acknowledged_at - report.sent_at)}"))
    else:
        facts.append(Fact("Acknowledged", "not yet"))
    return Message(title=f"{report.ref} {kind_label(report.kind)} for {partner_name}",
                   sections=(Section(facts=tuple(facts)), Section(heading="Report", text=report.text)))
