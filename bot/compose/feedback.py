"""Feedback pulse messages: the invitation DM, the reminder, the form, the confirmation, the results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.actions import ActionId, FormId
from bot.domain.pulse import (
    HIDDEN,
    HIDDEN_ANONYMOUS,
    HIDDEN_RATINGS,
    QUESTIONS,
    SCALE,
    Summary,
    averages_text,
    rate_text,
    scale_label,
)
from bot.domain.wording import plural, possessive
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

FORM_TITLE = "Feedback to the client"


def _button(pulse_id: int) -> Action:
    return Action(ActionId.FEEDBACK_OPEN_FORM, "Give feedback", value=f"pulse:{pulse_id}", style=ButtonStyle.PRIMARY)


def pulse_dm(*, pulse_id: int, period: str, partner_name: str, anonymous_allowed: bool) -> Message:
    """Return the invitation each partner user gets when a pulse round opens."""
    anon = " You can answer anonymously." if anonymous_allowed else ""
    return Message(
        title=f"Feedback pulse {period}",
        summary=f"How is working with the client going for {partner_name}? Four quick 1-5 ratings and a "
                f"comment, all optional; it takes a minute.{anon}",
        sections=(Section(bullets=tuple(label for _, label in QUESTIONS)),),
        actions=(_button(pulse_id),), ephemeral=False, thread_key=f"pulse:{pulse_id}",
        fallback=f"Feedback pulse {period} for {partner_name}: please give your feedback (type `feedback`).")


def pulse_reminder(*, pulse_id: int, period: str, partner_name: str) -> Message:
    return Message(
        title=f"Reminder: feedback pulse {period}",
        summary=f"You have not answered {possessive(partner_name)} feedback pulse {period} yet. It takes a minute; "
                "this is the only reminder.",
        actions=(_button(pulse_id),), ephemeral=False, thread_key=f"pulse:{pulse_id}",
        fallback=f"Reminder: feedback pulse {period} for {partner_name} (type `feedback`).")


def feedback_form(*, partner_name: str, period: str | None, pulse_id: int | None, anonymous_allowed: bool) -> Form:
    """Return the form: four optional 1-5 selects, a comment, and the anonymity checkbox when allowed."""
    options = tuple(Option(str(n), scale_label(n)) for n in sorted(SCALE, reverse=True))
    fields = [FormField(key, label, FieldKind.SELECT, required=False, options=options) for key, label in QUESTIONS]
    fields.append(FormField("comment", "Comment", FieldKind.TEXTAREA, required=False, max_length=3000,
                            placeholder="What works, what should change"))
    if anonymous_allowed:
        fields.append(FormField("anonymous", "Answer anonymously (your name is not stored)", FieldKind.CHECKBOX,
                                required=False, initial="yes"))
    about = f"the feedback pulse {period}" if period else "ad-hoc feedback"
    return Form(FormId.FEEDBACK, FORM_TITLE, tuple(fields), submit_label="Send",
                intro=f"{partner_name}: {about}. Rate what you want to rate (5 is best) and/or leave a comment.",
                state=f"pulse:{pulse_id}" if pulse_id is not None else "adhoc")


def confirmation(*, period: str | None, anonymous: bool) -> Message:
    what = f"your answer to the feedback pulse {period}" if period else "your feedback"
    how = "anonymously: your name was not stored" if anonymous else "with your name"
    return Message(title="Thank you", summary=f"We recorded {what}, {how}.", severity=Severity.SUCCESS)


def refused(text: str) -> Message:
    return Message(title="Feedback", summary=text, severity=Severity.WARNING)


@dataclass(frozen=True, slots=True)
class PeriodResult:
    period: str
    answered: int
    asked: int
    summary: Summary


@dataclass(frozen=True, slots=True)
class PartnerResults:
    partner_name: str
    current: PeriodResult | None
    trend: Sequence[PeriodResult]  # oldest first, includes current
    comments: Sequence[tuple[str | None, str]]  # (author name or None when anonymous, text)
    adhoc: Summary
    adhoc_comments: Sequence[tuple[str | None, str]]


def _facts(summary: Summary) -> tuple[Fact, ...]:
    if summary.hidden:
        return (Fact("Averages", f"{summary.answers} answer{'s' if summary.answers != 1 else ''}, {HIDDEN}"),)
    def value(key: str) -> str:
        if summary.averages[key] is not None:
            return f"{summary.averages[key]:.1f}/5 ({summary.rated[key]} ratings)"
        if key in summary.protected:
            return f"{HIDDEN_ANONYMOUS} ({summary.rated[key]} ratings so far)"
        return f"{HIDDEN_RATINGS} ({summary.rated[key]} so far)"

    return tuple(Fact(label, value(key)) for key, label in QUESTIONS)


def _comments(comments: Sequence[tuple[str | None, str]], summary: Summary) -> tuple[str, ...]:
    if summary.hidden:
        return ()
    return tuple(f"{name}: {text}" if name else f"(anonymous) {text}" for name, text in comments)


def results(parts: Sequence[PartnerResults]) -> Message:
    """Return ``feedback results``: per partner the period's averages, response rate, trend and comments."""
    sections: list[Section] = []
    for part in parts:
        cur = part.current
        if cur is None:
            sections.append(Section(heading=part.partner_name, text="No feedback pulse round yet."))
        else:
            sections.append(Section(heading=f"{part.partner_name}: pulse {cur.period}",
                                    text=rate_text(cur.answered, cur.asked), facts=_facts(cur.summary)))
            if len(part.trend) > 1:
                sections.append(Section(heading="Trend", bullets=tuple(
                    f"{p.period}: " + (f"overall {p.summary.overall:.1f}/5" if p.summary.overall is not None
                                       else HIDDEN) + f", {rate_text(p.answered, p.asked)}" for p in part.trend)))
            lines = _comments(part.comments, cur.summary)
            if lines:
                sections.append(Section(heading="Comments", bullets=lines))
            elif cur.summary.hidden and cur.summary.comments:
                sections.append(Section(heading="Comments", text=f"{plural(cur.summary.comments, 'comment')}, {HIDDEN}."))
        if part.adhoc.answers:
            sections.append(Section(heading="Ad-hoc feedback (last 90 days)", text=averages_text(part.adhoc)
                                    + f" — {plural(part.adhoc.answers, 'answer')}",
                                    bullets=_comments(part.adhoc_comments, part.adhoc)))
    title = "Feedback results" + (f": {parts[0].partner_name}" if len(parts) == 1 else "")
    return Message(title=title, sections=tuple(sections),
                   context="Averages and comments are shown only for groups of at least 3 answers; anonymous "
                           "answers carry no name.")
