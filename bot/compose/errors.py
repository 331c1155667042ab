"""Answers for things that went wrong: refused, not understood, unknown button."""

from bot.messages import Message, Section, Severity


def access_denied(reason: str) -> Message:
    return Message(title="Not allowed", summary=reason, severity=Severity.WARNING)


def unknown_action(name: str) -> Message:
    return Message(
        title="That button no longer works",
        summary=f"Liaison does not know the action '{name}'. The message may be from an older version; run the command again.",
        severity=Severity.WARNING,
    )


def not_understood(problem: str, *, suggestions: tuple[str, ...] = (), usage: str | None = None) -> Message:
    """Say what was not understood, the closest valid names, and how to ask."""
    sections = []
    if suggestions:
        sections.append(Section(heading="Did you mean", bullets=tuple(suggestions)))
    if usage:
        sections.append(Section(heading="Usage", text=usage))
    return Message(title="I didn't understand that", summary=problem, severity=Severity.WARNING,
                   sections=tuple(sections))


def internal_error(reference: str) -> Message:
    return Message(
        title="Something went wrong on our side",
        summary=f"Nothing was changed. Try again in a minute; if it keeps failing, give an admin this reference: {reference}.",
        severity=Severity.CRITICAL,
    )
