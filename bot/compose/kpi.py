"""KPI answers and SLA status: pure functions from query results to messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.actions import ActionId
from bot.compose.breach import parts_text
from bot.domain.metrics import Metric, format_delta, format_value
from bot.domain.sparkline import sparkline
from bot.messages import Action, KpiRow, Message, Section, Severity, Status

_WORST_FIRST = (Status.BREACH, Status.WARNING, Status.INSUFFICIENT, Status.OK, Status.NO_TARGET, Status.NO_DATA)


def target_text(metric: Metric, comparator: str, value: float) -> str:
    return f"{'≥' if comparator == '>=' else '≤'} {format_value(metric, value)}"


def metric_label(metric: Metric, channel: str | None) -> str:
    return f"{metric.label} ({channel})" if channel else metric.label


def kpi_row(line, *, with_partner: bool = False) -> KpiRow:  # noqa: ANN001 - a kpi_query.KpiLine
    """Turn one KPI line into a row: value vs target, status, change, trend, parts."""
    m = line.metric
    note = parts_text(m.key, line.parts.num, line.parts.den) if line.parts and line.parts.den else None
    return KpiRow(
        metric=m.key,
        label=metric_label(m, line.channel),
        value=format_value(m, line.value),
        target=target_text(m, line.target.comparator, line.target.target_value) if line.target else None,
        status=line.status,
        delta=format_delta(m, line.delta) if line.delta is not None else None,
        sparkline=sparkline(line.trend) if any(v is not None for v in line.trend) else None,
        scope=line.partner.name if with_partner else None,
        note=note,
    )


def worst_status(statuses: Sequence[Status]) -> Status:
    for status in _WORST_FIRST:
        if status in statuses:
            return status
    return Status.NO_DATA


def severity_for(status: Status) -> Severity:
    return {Status.BREACH: Severity.CRITICAL, Status.WARNING: Severity.WARNING, Status.OK: Severity.SUCCESS}.get(
        status, Severity.INFO)


def _summary(statuses: Sequence[Status]) -> str:
    counts = {s: statuses.count(s) for s in (Status.BREACH, Status.WARNING, Status.OK)}
    parts = [f"{n} {s.text}" for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "no KPI with a target has data in this window"


@dataclass(frozen=True, slots=True)
class KpiAnswer:
    """The asked-for scope of a kpi answer, for its title and Share button."""

    command_text: str
    window_label: str
    scope: str = ""  # e.g. "Kraków · voice" when a site or channel was asked for


def kpi_answer(lines: Sequence, *, ask: KpiAnswer, sites: Sequence[tuple[str, Sequence]] = ()) -> Message:
    """Answer ``kpi``: one section per partner, each KPI with value, target, status, change, trend.

    ``sites`` adds a section per site (name, its lines) for a partner with several sites.
    """
    by_partner: dict[int, list] = {}
    for line in lines:
        by_partner.setdefault(line.partner.id, []).append(line)
    sections = []
    statuses = [line.status for line in lines]
    for partner_lines in by_partner.values():
        partner = partner_lines[0].partner
        window = partner_lines[0].window
        sections.append(Section(
            heading=f"{partner.name} · {window.label}" if len(by_partner) > 1 else None,
            kpis=tuple(kpi_row(line) for line in partner_lines),
        ))
    for name, site_lines in sites:
        sections.append(Section(heading=f"{name} (this site only)", kpis=tuple(kpi_row(line) for line in site_lines)))
    single = len(by_partner) == 1
    first = lines[0] if lines else None
    where = f" · {ask.scope}" if ask.scope else ""
    title = (f"{first.partner.name} — KPIs {ask.window_label}{where}" if single and first
             else f"Portfolio KPIs — {ask.window_label}")
    trend_n = len(first.trend) if first else 0
    return Message(
        title=title,
        summary=_summary(statuses),
        severity=severity_for(worst_status(statuses)),
        sections=tuple(sections) or (Section(text="No partners to show."),),
        actions=(Action(ActionId.SHARE_IN_CHANNEL, "Share in channel", value=ask.command_text),),
        context=(f"Windows in each partner's local time. Change vs the previous window; "
                 f"trend over the last {trend_n} windows."),
        fallback=f"{title}: {_summary(statuses)}",
    )


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """One SLA target's standing over its newest complete window and the running one."""

    partner_name: str
    scope: str
    metric: Metric
    comparator: str
    target: float
    window_label: str
    value: float | None
    status: Status
    running_label: str
    running_value: float | None
    running_status: Status
    volume: float


def sla_status(statuses: Sequence[TargetStatus], *, open_breaches: Section | None, title_scope: str) -> Message:
    """Answer ``sla``: compliance per target and the open breach episodes."""
    by_partner: dict[str, list[TargetStatus]] = {}
    for s in statuses:
        by_partner.setdefault(s.partner_name, []).append(s)
    sections = []
    for name, rows in by_partner.items():
        sections.append(Section(heading=name, kpis=tuple(
            KpiRow(
                metric=s.metric.key,
                label=f"{s.metric.label} · {s.scope}",
                value=format_value(s.metric, s.value),
                target=target_text(s.metric, s.comparator, s.target),
                status=s.status,
                note=(f"{s.window_label}; so far in {s.running_label}: "
                      f"{format_value(s.metric, s.running_value)} ({s.running_status.text})"),
            ) for s in rows)))
    if open_breaches is not None:
        sections.append(open_breaches)
    complete = [s.status for s in statuses]
    met = sum(1 for s in complete if s in (Status.OK, Status.WARNING))
    judged = sum(1 for s in complete if s in (Status.OK, Status.WARNING, Status.BREACH))
    summary = f"{met} of {judged} targets met in their newest complete window" if judged else "No target has enough data yet."
    return Message(
        title=f"SLA compliance — {title_scope}",
        summary=summary,
        severity=severity_for(worst_status(complete)),
        sections=tuple(sections) or (Section(text="No SLA targets are configured."),),
        context="Each target is judged over its own window (hour, day, week, month) in the partner's time zone.",
    )
