"""Staffing answers and pre-shortfall warnings (pure): forecast vs schedule in words a planner reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.actions import ActionId
from bot.domain.wording import plural
from bot.messages import Action, Fact, Image, Message, Section, Severity


def zone_city(tz: str) -> str:
    """Say a timezone the way people do: Europe/Warsaw -> Warsaw."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def span_line(span: dict, tz: str) -> str:
    """One shortfall: "Thu 4 Dec, voice, Kraków, 10:00-13:00 Warsaw: 38 scheduled vs 46 needed; ..."."""
    where = f", {span['site']}" if span.get("site") else ""
    scheduled = span["scheduled"]
    scheduled_text = f"{scheduled:g}" if float(scheduled).is_integer() else f"{scheduled:.1f}"
    return (f"{day_text(date.fromisoformat(span['day']))}, {span['channel']}{where}, {span['from']}-{span['to']} "
            f"{zone_city(tz)}: {scheduled_text} scheduled vs {span['required']} needed; "
            f"expected SL {span['expected_sl']}% vs {span['target']}% target")


@dataclass(frozen=True, slots=True)
class ShortfallView:
    partner_name: str
    tz: str
    day: date
    spans: tuple[dict, ...]
    shrinkage: float  # %
    margin: float  # SL points
    chart_png: bytes | None = None
    forecast_note: str | None = None  # "forecast version 3, received Tue 1 Dec 14:02"


def _context(view: ShortfallView) -> str:
    bits = [f"Needed = Erlang C for the SL target plus {view.shrinkage:g}% shrinkage",
            f"gaps within {view.margin:g} SL points of target are not flagged"]
    if view.forecast_note:
        bits.insert(0, view.forecast_note)
    return "; ".join(bits) + "."


def shortfall_warning(view: ShortfallView) -> Message:
    """The warning for one partner and day: every short span, worst number first."""
    title = f"Staffing shortfall ahead · {view.partner_name} · {day_text(view.day)}"
    lines = tuple(span_line(s, view.tz) for s in view.spans)
    return Message(
        title=title, severity=Severity.WARNING,
        summary=(f"The schedule is short of the forecast in {plural(len(lines), 'span')}; the service level will miss "
                 f"its target unless agents are added."),
        sections=(Section(heading="Short spans", bullets=lines),),
        context=_context(view),
        image=Image(alt=f"Required vs scheduled agents, {view.partner_name}, {day_text(view.day)}",
                    png=view.chart_png, title=f"staffing-{view.day.isoformat()}") if view.chart_png else None,
        fallback=f"{title}: " + " | ".join(lines), thread_key=f"staffing:{view.day.isoformat()}", ephemeral=False,
    )


def shortfall_update(view: ShortfallView, *, revision: int) -> Message:
    """The thread note when a new forecast or schedule changes the day's shortfall."""
    lines = tuple(span_line(s, view.tz) for s in view.spans)
    return Message(title=f"Update {revision}: still short on {day_text(view.day)}", severity=Severity.WARNING,
                   sections=(Section(bullets=lines),), fallback=" | ".join(lines), ephemeral=False)


def shortfall_closed(view: ShortfallView, *, previous: Sequence[dict]) -> Message:
    """The warning, edited in place (and noted in its thread) once the schedule covers the forecast."""
    title = f"Staffing shortfall closed · {view.partner_name} · {day_text(view.day)}"
    return Message(
        title=title, severity=Severity.SUCCESS,
        summary="The newest schedule and forecast give the target service level on this day.",
        sections=(Section(heading="Was short", bullets=tuple(span_line(s, view.tz) for s in previous)),),
        context=_context(view), fallback=title, ephemeral=False,
    )


@dataclass(frozen=True, slots=True)
class StaffingDay:
    label: str  # "Mon 7 Dec · voice · Kraków"
    contacts: float
    required_hours: float
    scheduled_hours: float | None
    expected_sl: float | None
    target: float
    short_intervals: int
    intervals: int
    peak_required: int
    peak_scheduled: float | None


@dataclass(frozen=True, slots=True)
class StaffingAnswer:
    command_text: str
    scope: str  # "Acme · Kraków"
    window_label: str
    tz: str
    days: tuple[StaffingDay, ...]
    what_if: str = ""
    shrinkage: float = 30.0
    detail: tuple[str, ...] = ()  # per-interval lines when asked
    detail_note: str | None = None
    notes: tuple[str, ...] = ()  # no target for email, forecast changed ...
    chart_png: bytes | None = None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def day_bullet(d: StaffingDay) -> str:
    if d.scheduled_hours is None:
        schedule = f"not scheduled (needs {d.required_hours:,.1f} agent-hours, peak {d.peak_required})"
    else:
        gap = d.scheduled_hours - d.required_hours
        peak = f"{d.peak_scheduled:g}" if d.peak_scheduled is not None and float(d.peak_scheduled).is_integer() \
            else f"{d.peak_scheduled or 0:.1f}"
        schedule = (f"{d.required_hours:,.1f} agent-hours needed vs {d.scheduled_hours:,.1f} scheduled "
                    f"(gap {gap:+,.1f} h; {'worst' if d.short_intervals else 'busiest'} interval {peak} scheduled "
                    f"vs {d.peak_required} needed); "
                    f"expected SL {_pct(d.expected_sl)} vs {_pct(d.target)} target")
        if d.short_intervals:
            schedule += f"; {d.short_intervals} of {d.intervals} intervals short"
    return f"{d.label}: {d.contacts:,.0f} contacts forecast; {schedule}"


def staffing_answer(answer: StaffingAnswer) -> Message:
    """The answer to `staffing acme [site] [window] [intervals] [volume +15%] [aht +20s]`."""
    what_if = f" · what-if {answer.what_if}" if answer.what_if else ""
    title = f"Staffing · {answer.scope} · {answer.window_label}{what_if}"
    sections = []
    if answer.days:
        sections.append(Section(heading="Per day", bullets=tuple(day_bullet(d) for d in answer.days)))
    else:
        sections.append(Section(text="No forecast for this window yet. Partners send it with "
                                     "`liaison staffing ingest` or POST /api/v1/staffing."))
    if answer.detail:
        sections.append(Section(heading=f"Per interval ({zone_city(answer.tz)} time)", bullets=answer.detail,
                                text=answer.detail_note))
    if answer.notes:
        sections.append(Section(bullets=answer.notes))
    short = sum(d.short_intervals for d in answer.days)
    summary = (f"{plural(short, 'interval')} short of the service-level target" if short
               else "The schedule covers the forecast" if any(d.scheduled_hours is not None for d in answer.days)
               else None)
    if answer.what_if:
        summary = f"{summary or 'Computed'} if {answer.what_if} (a what-if: nothing was stored)"
    return Message(
        title=title, summary=summary, severity=Severity.WARNING if short else Severity.INFO,
        sections=tuple(sections),
        context=(f"Times in {answer.tz}. Needed = Erlang C agents for the SL target plus {answer.shrinkage:g}% "
                 f"shrinkage; expected SL uses the scheduled agents after shrinkage."),
        image=Image(alt=f"Required vs scheduled agents, {answer.scope}, {answer.window_label}",
                    png=answer.chart_png, title="staffing") if answer.chart_png else None,
        actions=(Action(ActionId.SHARE_IN_CHANNEL, "Share in channel", value=answer.command_text),),
    )


def portfolio_answer(rows: Sequence[tuple[str, int, str]], *, window_label: str, command_text: str) -> Message:
    """One line per partner: short intervals in the window and the worst day."""
    facts = tuple(Fact(name, f"{plural(short, 'short interval')}; worst day {worst}" if short else worst)
                  for name, short, worst in rows)
    return Message(title=f"Staffing · all partners · {window_label}",
                   sections=(Section(facts=facts or (Fact("Partners", "none with a forecast"),)),),
                   context="`staffing PARTNER` shows the days; each partner in its own timezone.",
                   actions=(Action(ActionId.SHARE_IN_CHANNEL, "Share in channel", value=command_text),))
