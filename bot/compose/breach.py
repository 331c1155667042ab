"""Breach alerts, still-breaching follow-ups, recoveries and pre-breach warnings (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.actions import ActionId
from bot.domain.metrics import CATALOGUE, Unit, format_value
from bot.domain.wording import comparator_symbol
from bot.messages import (
    Action,
    ButtonStyle,
    Confirm,
    Fact,
    KpiRow,
    Message,
    Section,
    Severity,
    Status,
)


def parts_text(metric_key: str, num: float, den: float) -> str:
    """Say what a value is built from: "412 of 600 answered within threshold"."""
    metric = CATALOGUE[metric_key]
    if metric.unit is Unit.PERCENT:
        return f"{num:,.0f} of {den:,.0f} {metric.num_label}"
    unit = metric.den_label[:-1] if den == 1 and metric.den_label.endswith("s") else metric.den_label
    return f"{num:,.0f} {metric.num_label} over {den:,.0f} {unit}"


def duration_text(delta: timedelta) -> str:
    """Say a duration the short way: 3 d 4 h, 5 h, 45 min."""
    minutes = int(delta.total_seconds() // 60)
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


@dataclass(frozen=True, slots=True)
class BreachView:
    """Everything a breach message shows, gathered by the evaluation service."""

    episode_id: int
    partner_name: str
    scope: str  # "Krakow · voice", "all sites · chat"
    metric: str  # metric key
    comparator: str
    target: float
    value: float  # newest violating (or recovering) window's value
    worst: float
    num: float
    den: float
    window_label: str  # the window judged, e.g. "Mon 2026-11-16"
    since: datetime  # local start of the first violating window
    windows_breached: int
    spark: str = ""
    contributor: str | None = None  # "Lisbon: 120 short"
    critical: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    muted_until: datetime | None = None
    muted_by: str | None = None


def _label(view: BreachView) -> str:
    return CATALOGUE[view.metric].label


def _facts(view: BreachView) -> tuple[Fact, ...]:
    metric = CATALOGUE[view.metric]
    facts = [
        Fact("Partner", view.partner_name),
        Fact("Scope", view.scope),
        Fact("Observed", f"{format_value(metric, view.value)} ({parts_text(view.metric, view.num, view.den)})",
             Status.BREACH),
        Fact("Target", f"{comparator_symbol(view.comparator)} {format_value(metric, view.target)}"),
        Fact("Since", f"{view.since.strftime('%a %Y-%m-%d %H:%M %Z')} ({view.windows_breached} window"
                      f"{'s' if view.windows_breached != 1 else ''})"),
    ]
    if view.worst != view.value:
        facts.append(Fact("Worst", format_value(metric, view.worst)))
    if view.contributor:
        facts.append(Fact("Largest shortfall", view.contributor))
    if view.acknowledged_by and view.acknowledged_at:
        facts.append(Fact("Acknowledged", f"by {view.acknowledged_by} at "
                                          f"{view.acknowledged_at.strftime('%Y-%m-%d %H:%M UTC')}"))
    if view.muted_until and view.muted_by:
        facts.append(Fact("Muted", f"by {view.muted_by} until {view.muted_until.strftime('%Y-%m-%d %H:%M UTC')}"))
    return tuple(facts)


def _kpi(view: BreachView, status: Status) -> KpiRow:
    metric = CATALOGUE[view.metric]
    return KpiRow(metric=view.metric, label=metric.label, value=format_value(metric, view.value),
                  target=f"{comparator_symbol(view.comparator)} {format_value(metric, view.target)}", status=status,
                  sparkline=view.spark or None, note=parts_text(view.metric, view.num, view.den))


def _buttons(view: BreachView) -> tuple[Action, ...]:
    value = f"breach:{view.episode_id}"
    buttons = []
    if not view.acknowledged_by:
        buttons.append(Action(ActionId.BREACH_ACKNOWLEDGE, "Acknowledge", value, ButtonStyle.PRIMARY))
    buttons.append(Action(ActionId.BREACH_OPEN_ESCALATION, "Open escalation", value))
    if not view.muted_until:
        buttons.append(Action(ActionId.BREACH_MUTE, "Mute 24 h", value, confirm=Confirm(
            "Mute this breach?", "No still-breaching follow-ups for 24 hours. Recovery is still posted.")))
    return tuple(buttons)


def breach_alert(view: BreachView) -> Message:
    """Announce a new breach episode (also the base of its in-place updates)."""
    metric = CATALOGUE[view.metric]
    title = f"SLA breach: {view.partner_name} {_label(view)} {format_value(metric, view.value)}"
    return Message(
        title=title,
        summary=f"{view.scope}, {view.window_label}: target {comparator_symbol(view.comparator)} {format_value(metric, view.target)}",
        severity=Severity.CRITICAL if view.critical else Severity.WARNING,
        sections=(Section(facts=_facts(view), kpis=(_kpi(view, Status.BREACH),)),),
        actions=_buttons(view),
        context=f"Breach #{view.episode_id}" + (" · critical: also sent to the client" if view.critical else ""),
        thread_key=f"breach:{view.episode_id}",
        fallback=f"{title} ({view.scope}, target {comparator_symbol(view.comparator)} {format_value(metric, view.target)})",
        ephemeral=False,
    )


def breach_followup(view: BreachView) -> Message:
    """Say in the alert's thread that the breach goes on."""
    metric = CATALOGUE[view.metric]
    title = f"Still breaching: {_label(view)} {format_value(metric, view.value)} in {view.window_label}"
    return Message(
        title=title,
        summary=f"{view.windows_breached} windows in breach so far; worst {format_value(metric, view.worst)}.",
        severity=Severity.WARNING,
        sections=(Section(kpis=(_kpi(view, Status.BREACH),)),),
        thread_key=f"breach:{view.episode_id}", fallback=title, ephemeral=False,
    )


def breach_recovered(view: BreachView, *, recovered_at: datetime) -> Message:
    """Mark the breach resolved: used both as the thread reply and the original's new look."""
    metric = CATALOGUE[view.metric]
    took = duration_text(recovered_at - view.since)
    title = f"Resolved: {view.partner_name} {_label(view)} back on target"
    return Message(
        title=title,
        summary=(f"{view.scope}: {format_value(metric, view.value)} in {view.window_label} "
                 f"(target {comparator_symbol(view.comparator)} {format_value(metric, view.target)}). Breach lasted {took}; "
                 f"worst {format_value(metric, view.worst)}."),
        severity=Severity.SUCCESS,
        sections=(Section(facts=(
            Fact("Partner", view.partner_name), Fact("Scope", view.scope),
            Fact("Breach lasted", took), Fact("Windows in breach", str(view.windows_breached)),
            Fact("Worst", format_value(metric, view.worst)),
        ), kpis=(_kpi(view, Status.OK),)),),
        context=f"Breach #{view.episode_id} resolved",
        thread_key=f"breach:{view.episode_id}", fallback=title, ephemeral=False,
    )


@dataclass(frozen=True, slots=True)
class PreBreachView:
    partner_name: str
    scope: str
    metric: str
    comparator: str
    target: float
    value_so_far: float
    num: float
    den: float
    projected_volume: float
    window_label: str
    elapsed_share: float  # 0..1 of the window gone


def prebreach_warning(view: PreBreachView) -> Message:
    """Warn that the running window is on course to miss its target."""
    metric = CATALOGUE[view.metric]
    title = (f"At risk: {view.partner_name} {metric.label} {format_value(metric, view.value_so_far)} "
             f"so far in {view.window_label}")
    return Message(
        title=title,
        summary=(f"{view.scope}: target {comparator_symbol(view.comparator)} {format_value(metric, view.target)}; "
                 f"{view.elapsed_share:.0%} of the window gone, about {view.projected_volume:,.0f} "
                 f"{metric.den_label} expected in all."),
        severity=Severity.WARNING,
        sections=(Section(facts=(
            Fact("Partner", view.partner_name), Fact("Scope", view.scope),
            Fact("So far", f"{format_value(metric, view.value_so_far)} "
                           f"({parts_text(view.metric, view.num, view.den)})", Status.WARNING),
            Fact("Target", f"{comparator_symbol(view.comparator)} {format_value(metric, view.target)}"),
        )),),
        fallback=title, ephemeral=False,
    )


def open_breaches_section(views: list[BreachView], *, total: int | None = None) -> Section:
    """List open episodes for /sla and App Home; ``total`` counts them all when ``views`` are the newest few."""
    if not views:
        return Section(heading="Open breaches", text="No open breaches.")
    total = max(total or 0, len(views))
    bullets = []
    for v in views:
        metric = CATALOGUE[v.metric]
        ack = f", acknowledged by {v.acknowledged_by}" if v.acknowledged_by else ""
        bullets.append(f"#{v.episode_id} {v.partner_name} · {v.scope}: {metric.label} "
                       f"{format_value(metric, v.value)} (target {comparator_symbol(v.comparator)} "
                       f"{format_value(metric, v.target)}) since {v.since.strftime('%Y-%m-%d %H:%M %Z')}{ack}")
    if total > len(views):
        bullets.append(f"...and {total - len(views)} older open (newest {len(views)} shown); "
                       f"`sla <partner>` lists one partner's")
    return Section(heading=f"Open breaches ({total})", bullets=tuple(bullets))
