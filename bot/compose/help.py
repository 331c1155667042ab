"""The help answer, built from the command registry so it can never drift from the code."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Message, Section


def help_message(specs: Sequence, *, registered: bool, prefix: str = "/") -> Message:  # noqa: ANN001 - CommandSpec
    """List every command with what it does, how to call it, and examples."""
    sections = [
        Section(heading=f"{prefix}{spec.verb}", text=f"{spec.summary}\nUsage: {prefix}{spec.usage}",
                bullets=tuple(f"{prefix}{e}" for e in spec.examples))
        for spec in specs
    ]
    sections.append(Section(
        heading="Windows and metrics",
        text=("Windows: today, yesterday, this-week, last-week, 7d, 28d, this-month, last-month, quarter, "
              "YYYY-MM-DD..YYYY-MM-DD, YYYY-Www, YYYY-Qn. Metrics: sl, asa, abandon, aht, fcr, csat, nps, "
              "ces, qa, backlog, frt, attrition, training, adherence."),
    ))
    summary = "What you can ask Liaison." if registered else (
        "You are not set up in Liaison yet: ask a Liaison admin to add you. Here is what you can do once you are.")
    return Message(title="Liaison help", summary=summary, sections=tuple(sections))
