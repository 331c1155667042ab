"""Announcement messages: the form, the partner card with per-site status, the client copy, reminders, lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import ActionId, FormId
from bot.domain.announcements import AUDIENCES, CATEGORIES, CHANNELS, category_label, duration_text
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
from bot.store.announcements import Announcement, AnnouncementSite

FORM_TITLE = "Announce a change"
EDIT_TITLE = "Edit announcement"
MAX_SITE_BUTTONS = 10
MAX_OPTIONS = 100  # Slack's select limit; above it the form asks for typed keys rather than drop any  # a partner card carries one Acknowledge button per waiting site, up to this many


@dataclass(frozen=True, slots=True)
class SiteLine:
    """One addressed site as a card shows it."""

    row: AnnouncementSite
    partner_name: str
    training_kpi: float | None = None  # ingested training completion (%), when there is some


def when(moment: datetime | None, tz: str) -> str:
    """Return "Mon 23 Nov 2026 08:00 CET" in ``tz``; "" for None."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y %H:%M %Z")


def _short(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


def _choice(field_id: str, label: str, options: Sequence[tuple[str, str]], example: str) -> FormField:
    """Return a multi-select, or a typed list when there are more options than a select can hold."""
    if len(options) <= MAX_OPTIONS:
        return FormField(field_id, label, FieldKind.MULTI_SELECT, required=False,
                         options=tuple(Option(value, text) for value, text in options))
    return FormField(field_id, label, required=False, max_length=3000, placeholder=example,
                     hint=f"{len(options)} to choose from: type their keys separated by commas, e.g. {example}.")


def announce_form(*, partners: Sequence[tuple[str, str]], sites: Sequence[tuple[str, str]], client_tz: str,
                  edit: Announcement | None = None) -> Form:
    """Return the form; for an edit, the content fields prefilled and no audience (it stays as sent)."""
    tz = ZoneInfo(client_tz)

    def date_of(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).strftime("%Y-%m-%d") if moment else None

    def time_of(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).strftime("%H:%M") if moment else None

    fields = [
        FormField("title", "Title", max_length=150, initial=edit.title if edit else None,
                  placeholder="e.g. New refund screen in the CRM"),
        FormField("body", "What changes", FieldKind.TEXTAREA, max_length=3000, initial=edit.body if edit else None,
                  placeholder="What changes for agents, from when, and what they must do differently"),
        FormField("category", "Category", FieldKind.SELECT, initial=edit.category if edit else None,
                  options=tuple(Option(k, v) for k, v in CATEGORIES.items())),
        FormField("effective_date", "Effective date", FieldKind.DATE, initial=date_of(edit.effective_at if edit else None)),
        FormField("effective_time", "Effective time", FieldKind.TIME, required=False,
                  initial=time_of(edit.effective_at if edit else None) or "09:00",
                  hint=f"Your time ({client_tz}); each partner sees it in their own zone."),
    ]
    if edit is None:
        fields += [
            FormField("audience", "Audience", FieldKind.SELECT, initial="all",
                      options=tuple(Option(k, v) for k, v in AUDIENCES.items())),
            _choice("partners", "Partners (for chosen partners)", partners, "acme, globex"),
            _choice("sites", "Sites (for chosen sites)", sites, "acme/krakow, globex/saopaulo"),
            FormField("channels", "Only partners handling", FieldKind.MULTI_SELECT, required=False,
                      options=tuple(Option(c, c) for c in CHANNELS),
                      hint="Optional: narrow the audience to partners handling these channels."),
        ]
    fields += [
        FormField("link", "Link", FieldKind.URL, required=False, initial=edit.link or None if edit else None,
                  placeholder="https://... (release notes, procedure, training deck)"),
        FormField("requires_ack", "Requires acknowledgement", FieldKind.CHECKBOX, required=False,
                  initial="yes" if edit is None or edit.ack_deadline else "no"),
        FormField("ack_date", "Acknowledge by (date)", FieldKind.DATE, required=False,
                  initial=date_of(edit.ack_deadline if edit else None)),
        FormField("ack_time", "Acknowledge by (time)", FieldKind.TIME, required=False,
                  initial=time_of(edit.ack_deadline if edit else None) or "17:00"),
        FormField("requires_training", "Requires training", FieldKind.CHECKBOX, required=False,
                  initial="yes" if edit is not None and edit.training_due else "no"),
        FormField("training_date", "Training due (date)", FieldKind.DATE, required=False,
                  initial=date_of(edit.training_due if edit else None)),
    ]
    if edit is not None:
        return Form(FormId.ANNOUNCEMENT, f"{EDIT_TITLE}"[:24], tuple(fields), submit_label="Save and update",
                    state=str(edit.id),
                    intro=f"Editing {edit.ref}. Every card is updated and the sites that already acknowledged are "
                          f"told what changed. Times are {client_tz}.")
    return Form(FormId.ANNOUNCEMENT, FORM_TITLE, tuple(fields), submit_label="Send",
                intro="Tell partner sites about a product, procedure or CRM change. Each site acknowledges it on the "
                      f"card; the sites that have not are reminded in their business hours. Times are {client_tz}.")


def question_form(announcement: Announcement, partner_id: int) -> Form:
    return Form(FormId.ANNOUNCEMENT_QUESTION, "Ask a question",
                (FormField("question", "Your question", FieldKind.TEXTAREA, max_length=2000),),
                submit_label="Ask", state=f"{announcement.id}:{partner_id}",
                intro=f"About {announcement.ref} {announcement.title}. It is posted in the card's thread and "
                      f"{announcement.author_name or 'the author'} is told.")


def training_form(announcement: Announcement, partner_id: int, sites: Sequence[tuple[str, str]]) -> Form:
    return Form(FormId.ANNOUNCEMENT_TRAINING, "Training done", (
        FormField("site", "Site", FieldKind.SELECT, options=tuple(Option(v, label) for v, label in sites),
                  initial=sites[0][0] if len(sites) == 1 else None, read_only=len(sites) == 1),
        FormField("agents", "Agents trained", FieldKind.NUMBER, min_value=0, max_value=100000),
    ), submit_label="Save", state=f"{announcement.id}:{partner_id}",
        intro=f"Mark {announcement.ref} {announcement.title} as trained at a site.")


def _acked(lines: Sequence[SiteLine]) -> int:
    return sum(1 for s in lines if s.row.acknowledged_at is not None)


def progress(lines: Sequence[SiteLine], announcement: Announcement) -> str:
    """Return "4 of 6 sites acknowledged" (or the training share when no acknowledgement is asked)."""
    total = len(lines)
    noun = "site" if total == 1 else "sites"
    if announcement.ack_deadline is None:
        if announcement.training_due is not None:
            done = sum(1 for s in lines if s.row.trained_at is not None)
            return f"{done} of {total} {noun} trained"
        return f"Sent to {total} {noun}; no acknowledgement asked"
    return f"{_acked(lines)} of {total} {noun} acknowledged"


def site_status(line: SiteLine, announcement: Announcement, tz: str, *, with_partner: bool) -> str:
    row = line.row
    name = f"{line.partner_name} / {row.site_name}" if with_partner and row.site_name != line.partner_name \
        else row.site_name
    parts = []
    if announcement.ack_deadline is not None:
        if row.acknowledged_at is not None:
            took = duration_text(row.acknowledged_at - announcement.sent_at)
            late = " (after the deadline)" if row.acknowledged_at > announcement.ack_deadline else ""
            parts.append(f"acknowledged by {row.acknowledged_name}, {_short(row.acknowledged_at, tz)} "
                         f"after {took}{late}")
        else:
            parts.append("waiting for acknowledgement")
    if announcement.training_due is not None:
        parts.append(f"training done, {row.agents_trained} agents trained" if row.trained_at is not None
                     else "training not marked done")
    if line.training_kpi is not None:
        parts.append(f"training completion {line.training_kpi:.0f}% (ingested)")
    return f"{name}: " + ("; ".join(parts) if parts else "informed")


def _facts(announcement: Announcement, tz: str, *, audience: str | None = None) -> tuple[Fact, ...]:
    facts = [Fact("Category", category_label(announcement.category)),
             Fact("Effective", when(announcement.effective_at, tz))]
    if announcement.ack_deadline is not None:
        facts.append(Fact("Acknowledge by", when(announcement.ack_deadline, tz)))
    if announcement.training_due is not None:
        facts.append(Fact("Training due", when(announcement.training_due, tz)))
    facts.append(Fact("From", announcement.author_name or announcement.author_handle or "the client"))
    if audience:
        facts.append(Fact("Audience", audience))
    if announcement.link:
        facts.append(Fact("Link", announcement.link))
    if announcement.revision:
        facts.append(Fact("Edited", f"{when(announcement.edited_at, tz)} (edit {announcement.revision})"))
    return tuple(facts)


def partner_card(announcement: Announcement, *, partner_id: int, partner_name: str, tz: str,
                 lines: Sequence[SiteLine]) -> Message:
    """Return the partner-channel card: that partner's sites only, a button per waiting site."""
    waiting = [s for s in lines if s.row.acknowledged_at is None] if announcement.ack_deadline else []
    actions = [Action(ActionId.ANNOUNCEMENT_ACKNOWLEDGE,
                      f"Acknowledge: {s.row.site_name}" if len(lines) > 1 else "Acknowledge",
                      value=f"an-site:{s.row.id}", style=ButtonStyle.PRIMARY) for s in waiting[:MAX_SITE_BUTTONS]]
    if announcement.training_due is not None and any(s.row.trained_at is None for s in lines):
        actions.append(Action(ActionId.ANNOUNCEMENT_TRAINING, "Training done",
                              value=f"an-partner:{announcement.id}:{partner_id}"))
    actions.append(Action(ActionId.ANNOUNCEMENT_QUESTION, "Have a question",
                          value=f"an-partner:{announcement.id}:{partner_id}"))
    done = announcement.ack_deadline is not None and not waiting
    summary = progress(lines, announcement)
    if announcement.ack_deadline is not None and waiting:
        summary += f". Please acknowledge by {when(announcement.ack_deadline, tz)}."
    sections = [Section(facts=_facts(announcement, tz)), Section(heading="What changes", text=announcement.body),
                Section(heading="Sites", bullets=tuple(site_status(s, announcement, tz, with_partner=False)
                                                       for s in lines))]
    if len(waiting) > MAX_SITE_BUTTONS:
        sections.append(Section(text=f"{len(waiting) - MAX_SITE_BUTTONS} more sites wait; acknowledge them with "
                                     f"`announce ack {announcement.ref} <site>`."))
    return Message(title=f"{announcement.ref} {category_label(announcement.category)}: {announcement.title}",
                   summary=summary, severity=Severity.SUCCESS if done else Severity.INFO,
                   sections=tuple(sections), actions=tuple(actions), ephemeral=False,
                   thread_key=f"announcement:{announcement.id}:{partner_id}",
                   fallback=f"{announcement.ref} {announcement.title} for {partner_name}: {summary}")


def client_copy(announcement: Announcement, *, tz: str, lines: Sequence[SiteLine], audience: str) -> Message:
    """Return the client's copy: every addressed site by partner, no buttons (acknowledging is the sites')."""
    summary = progress(lines, announcement)
    return Message(title=f"{announcement.ref} sent: {announcement.title}", summary=summary,
                   severity=Severity.SUCCESS if announcement.ack_deadline and _acked(lines) == len(lines)
                   else Severity.INFO,
                   sections=(Section(facts=_facts(announcement, tz, audience=audience)),
                             Section(heading="What changes", text=announcement.body),
                             Section(heading="Sites", bullets=tuple(site_status(s, announcement, tz, with_partner=True)
                                                                    for s in lines))),
                   ephemeral=False, thread_key=f"announcement:{announcement.id}",
                   fallback=f"{announcement.ref} {announcement.title}: {summary}")


def sent_confirmation(announcement: Announcement, *, partners: int, sites: int, tz: str) -> Message:
    due = (f" Sites are asked to acknowledge by {when(announcement.ack_deadline, tz)}; the ones that have not are "
           f"reminded half-way and at the deadline, and you get the list of missing sites after it."
           if announcement.ack_deadline else "")
    return Message(title=f"{announcement.ref} sent to {sites} site{'s' if sites != 1 else ''} of {partners} "
                         f"partner{'s' if partners != 1 else ''}",
                   summary=f"Posted to each partner's announcements channel with a copy to yours.{due}",
                   severity=Severity.SUCCESS)


def edited_confirmation(announcement: Announcement, *, changes: Sequence[str], told: int) -> Message:
    return Message(title=f"{announcement.ref} updated", severity=Severity.SUCCESS,
                   summary=f"Every card is being updated; {told} person{'s' if told != 1 else ''} who already "
                           f"acknowledged {'are' if told != 1 else 'is'} told what changed.",
                   sections=(Section(bullets=tuple(changes)),) if changes else ())


def changed_dm(announcement: Announcement, *, changes: Sequence[str], site_name: str) -> Message:
    return Message(title=f"{announcement.ref} changed after you acknowledged it",
                   summary=f"{announcement.author_name or 'The client'} edited {announcement.title!r}, which you "
                           f"acknowledged for {site_name}. Please check what changed with your team.",
                   sections=(Section(bullets=tuple(changes)),), ephemeral=False)


def acknowledged_reply(announcement: Announcement, site_name: str) -> Message:
    return Message(title=f"{announcement.ref} acknowledged for {site_name}", severity=Severity.SUCCESS,
                   summary="Thanks. The card shows it, and the client sees your site as done.")


def already_acknowledged(announcement: Announcement, row: AnnouncementSite) -> Message:
    return Message(title=f"{announcement.ref} is already acknowledged for {row.site_name}",
                   summary=f"{row.acknowledged_name} acknowledged it first. Nothing was changed.")


def trained_reply(announcement: Announcement, row: AnnouncementSite) -> Message:
    return Message(title=f"{announcement.ref} training done at {row.site_name}", severity=Severity.SUCCESS,
                   summary=f"{row.agents_trained} agents trained, recorded on the card.")


def question_posted(announcement: Announcement, *, thread: bool) -> Message:
    where = "in the card's thread" if thread else "to the author"
    return Message(title=f"Question about {announcement.ref} sent", severity=Severity.SUCCESS,
                   summary=f"Posted {where}; {announcement.author_name or 'the author'} is told.")


def question_message(announcement: Announcement, *, asker: str, partner_name: str, question: str) -> Message:
    return Message(title=f"Question about {announcement.ref} from {asker} ({partner_name})", summary=question,
                   ephemeral=False, thread_key=f"announcement:{announcement.id}")


def reminder(announcement: Announcement, *, waiting: Sequence[str], tz: str, final: bool) -> Message:
    names = ", ".join(waiting)
    if final:
        lead = f"The deadline ({when(announcement.ack_deadline, tz)}) has come"
    else:
        lead = f"Half the time to acknowledge has passed (deadline {when(announcement.ack_deadline, tz)})"
    return Message(title=f"Reminder: {announcement.ref} is not acknowledged by {names}", severity=Severity.WARNING,
                   summary=f"{lead}. {names} {'has' if len(waiting) == 1 else 'have'} not acknowledged "
                           f"{announcement.title!r} yet. Press Acknowledge on the card once the site has read it.",
                   ephemeral=False)


def missing_report(announcement: Announcement, *, missing: Sequence[str], total: int, tz: str) -> Message:
    return Message(title=f"{announcement.ref}: {len(missing)} of {total} sites did not acknowledge by the deadline",
                   summary=f"{announcement.title!r} was due for acknowledgement by {when(announcement.ack_deadline, tz)}.",
                   sections=(Section(heading="Missing", bullets=tuple(missing)),),
                   severity=Severity.WARNING, ephemeral=False)


def refused(reason: str) -> Message:
    return Message(title="Can't do that", summary=reason + " Nothing was changed.", severity=Severity.WARNING)


def announcement_list(rows: Sequence[tuple[Announcement, str]], *, scope: str, tz: str) -> Message:
    """Return ``announce list``: rows of (announcement, progress text), dates in the viewer's zone."""
    if not rows:
        return Message(title=f"No {scope}", summary="Client managers announce changes with `announce`.")
    bullets = [f"{a.ref} {a.title} · {category_label(a.category)} · sent "
               f"{a.sent_at.astimezone(ZoneInfo(tz)):%Y-%m-%d} · {state}" for a, state in rows]
    title = f"{len(rows)} {scope}" if len(rows) != 1 else f"1 {scope.replace('announcements', 'announcement', 1)}"
    return Message(title=title, sections=(Section(bullets=tuple(bullets)),),
                   context="Show one with `announce show AN-12`.")


def announcement_detail(announcement: Announcement, *, tz: str, lines: Sequence[SiteLine], with_partner: bool,
                        audience: str | None) -> Message:
    return Message(title=f"{announcement.ref} {category_label(announcement.category)}: {announcement.title}",
                   summary=progress(lines, announcement),
                   sections=(Section(facts=_facts(announcement, tz, audience=audience)),
                             Section(heading="What changes", text=announcement.body),
                             Section(heading="Sites", bullets=tuple(
                                 site_status(s, announcement, tz, with_partner=with_partner) for s in lines))))
