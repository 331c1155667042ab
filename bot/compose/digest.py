"""Weekly KPI digest message: KPIs, scorecard, what changed, chart (text reads fine without it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.compose.dashboard import dashboard_button
from bot.domain.scorecard import Scorecard
from bot.domain.wording import plural
from bot.messages import Fact, Image, KpiRow, Message, Section, Severity, Status


@dataclass(frozen=True, slots=True)
class DigestView:
    title_scope: str  # partner name, or "Portfolio"
    week: str  # ISO week, e.g. 2026-W46
    period: str  # e.g. "Mon 9 Nov - Sun 15 Nov 2026 (Europe/Warsaw)"
    kpis: tuple[KpiRow, ...]
    scorecards: tuple[Scorecard, ...]
    changes: tuple[str, ...]
    chart_png: bytes | None = None
    open_breaches: int = 0  # SLA breach episodes still open at the end of the week


def _score_line(card: Scorecard, *, ranked_of: int) -> Fact:
    if card.score is None:
        return Fact(card.partner, "no score (no KPI with data and target)")
    text = f"{card.score:.1f}/100"
    if card.rank is not None and ranked_of > 1:
        text += f" · rank {card.rank} of {ranked_of}"
    if card.movement is not None:
        text += f" · {card.movement:+.1f} vs last week"
    return Fact(card.partner, text)


def digest_message(view: DigestView) -> Message:
    """Compose the weekly digest for one partner or the portfolio."""
    ranked_of = sum(1 for c in view.scorecards if c.score is not None)
    statuses = [k.status for k in view.kpis]
    breached = sum(1 for s in statuses if s is Status.BREACH)
    problems = []
    if breached:
        problems.append(f"{plural(breached, 'KPI')} below target")
    if view.open_breaches:
        problems.append(f"{plural(view.open_breaches, 'SLA breach')} still open at week end")
    summary = f"{view.period}. " + ("; ".join(problems) + "." if problems
                                    else "All KPIs with data on or near target; no SLA breach open at week end.")
    sections = [
        Section(heading="KPIs", kpis=view.kpis),
        Section(heading="Balanced scorecard", facts=tuple(_score_line(c, ranked_of=ranked_of) for c in view.scorecards)),
        Section(heading="What changed", bullets=view.changes or ("Nothing notable changed.",)),
    ]
    image = Image(alt=f"{view.title_scope} scorecard KPIs over 8 weeks vs target", png=view.chart_png,
                  title=f"{view.title_scope} {view.week} trends") if view.chart_png else None
    return Message(
        title=f"Weekly digest · {view.title_scope} · {view.week}",
        summary=summary,
        severity=Severity.WARNING if problems else Severity.INFO,
        sections=tuple(sections),
        image=image,
        actions=(dashboard_button(),),
        context="Scorecard: each KPI's attainment vs target (capped at 120%), weighted to 0-100.",
        ephemeral=False,
    )


def digest_text(message: Message) -> str:
    """Render the digest as plain text (golden files, terminal, and the no-image reading)."""
    lines = [message.title, message.summary or ""]
    for section in message.sections:
        lines.append(f"== {section.heading}")
        lines += [f"{k.scope + ' · ' if k.scope else ''}{k.label}: {k.value} (target {k.target or '-'}, "
                  f"{k.status.text}{', ' + k.delta if k.delta else ''}) {k.sparkline or ''}".rstrip()
                  for k in section.kpis]
        lines += [f"{f.label}: {f.value}" for f in section.facts]
        lines += [f"- {b}" for b in section.bullets]
    if message.context:
        lines.append(message.context)
    return "\n".join(lines) + "\n"


def movers_lines(rows: Sequence[tuple[str, str, bool]]) -> tuple[str, ...]:
    """Phrase the largest movers: (label, delta text, improved)."""
    return tuple(f"{label} {'improved' if good else 'worsened'} {delta} week over week" for label, delta, good in rows)
