"""The staffing verb: forecast vs schedule per day (or interval), with what-ifs that store nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.commands import CommandError, CommandRequest, command, suggest
from bot.compose.staffing import (
    StaffingAnswer,
    StaffingDay,
    day_text,
    portfolio_answer,
    staffing_answer,
)
from bot.compose.staffing_chart import Panel, staffing_chart
from bot.core import Core
from bot.domain.access import require_registered
from bot.domain.channels import ContactChannel
from bot.domain.staffing import WhatIf
from bot.domain.windows import Window, WindowError, looks_like_window, parse_window
from bot.grammar import ALL, partners_by_token, resolve_partner, visible_partners
from bot.messages import Reply
from bot.services.staffing import Plan, day_lines, forecast_change_since_previous, load_plan
from bot.store.models import Site

USAGE = "staffing [partner] [site] [channel] [window] [intervals] [volume +15%] [aht +20s]"
DEFAULT_WINDOW = "7d"
STAFFING_WINDOWS = ("today", "tomorrow", "this-week", "next-week", "7d", "14d", "YYYY-MM-DD", "YYYY-MM-DD..YYYY-MM-DD",
                    "YYYY-Www")
MAX_DETAIL = 48  # interval lines in one answer; the rest is named, never dropped silently
_ROLLING = re.compile(r"^(\d{1,2})d$")
_PCT = re.compile(r"^([+-]\d+(?:\.\d+)?)%$")
_SECONDS = re.compile(r"^([+-]\d+(?:\.\d+)?)s$")
_CHANNELS = {c.value for c in ContactChannel}


@dataclass
class StaffingArgs:
    site: str | None = None
    channel: str | None = None
    window: str | None = None
    intervals: bool = False
    what_if: WhatIf = field(default_factory=WhatIf)


def staffing_window(spec: str, *, now: datetime, tz: ZoneInfo) -> Window:
    """Resolve a forward-looking window: today, tomorrow, this-week, next-week, Nd (from today), dates, weeks."""
    t = spec.lower()
    today = now.astimezone(tz).date()
    if t == "tomorrow":
        return parse_window((today + timedelta(days=1)).isoformat(), now=now, tz=tz)
    if t == "next-week":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return parse_window(f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}", now=now, tz=tz)
    if m := _ROLLING.match(t):
        n = int(m.group(1))
        if not 1 <= n <= 60:
            raise WindowError(f"'{spec}': staffing looks 1d to 60d ahead")
        return parse_window(f"{today.isoformat()}..{(today + timedelta(days=n - 1)).isoformat()}", now=now, tz=tz)
    return parse_window(spec, now=now, tz=tz)


def _what_if_value(args: list[str], i: int, word: str) -> tuple[float, str]:
    if i + 1 >= len(args):
        raise CommandError(f"'{word}' needs a change, e.g. `{word} +15%`" + (" or `aht +20s`" if word == "aht" else "") + ".")
    raw = args[i + 1].lower()
    if m := _PCT.match(raw):
        return float(m.group(1)), "pct"
    if word == "aht" and (m := _SECONDS.match(raw)):
        return float(m.group(1)), "s"
    raise CommandError(f"'{args[i + 1]}' is not a change I can apply to {word}; write "
                       + ("+15% or -10%" if word == "volume" else "+20s or +10%") + ".")


def split_args(args: list[str], partner_tokens: set[str], site_keys: dict[str, str] | None) -> StaffingArgs:
    """Sort tokens into partner / site / channel / window / intervals / what-ifs."""
    out = StaffingArgs()
    volume = aht_s = aht_pct = 0.0
    i = 0
    while i < len(args):
        raw = args[i]
        token = raw.lower()
        if token in ("volume", "aht"):
            value, unit = _what_if_value(args, i, token)
            if token == "volume":
                volume = value
            elif unit == "s":
                aht_s = value
            else:
                aht_pct = value
            i += 1
        elif token in ("intervals", "interval"):
            out.intervals = True
        elif token in _CHANNELS:
            out.channel = token
        elif site_keys is not None and token in site_keys:
            out.site = site_keys[token]
        elif token in ("tomorrow", "next-week") or looks_like_window(token) or _ROLLING.match(token):
            if out.window:
                raise CommandError(f"Two windows given ('{out.window}' and '{raw}'); give one.")
            out.window = raw
        else:
            words = set(_CHANNELS) | {"tomorrow", "next-week", "this-week", "today", "intervals", "volume", "aht"}
            words |= set(site_keys or ()) | partner_tokens
            raise CommandError(f"'{raw}' is not a {'partner, ' if partner_tokens else ''}site, channel, window or "
                               f"what-if I know. "
                               f"Windows: {', '.join(STAFFING_WINDOWS)}.",
                               suggestions=tuple(suggest(token, words)), usage=USAGE)
        i += 1
    out.what_if = WhatIf(volume_pct=volume, aht_seconds=aht_s, aht_pct=aht_pct)
    return out


def _detail(plan: Plan) -> tuple[tuple[str, ...], str | None]:
    lines = []
    busy = [iv for iv in plan.intervals if iv.need.contacts > 0]
    for iv in busy[:MAX_DETAIL]:
        local = iv.start.astimezone(plan.tz)
        where = f" {plan.site_name(iv.site_id)}" if plan.sites else ""
        sched = "not scheduled" if iv.need.scheduled is None else (
            f"{iv.need.scheduled:g} scheduled, expected SL {100 * (iv.need.expected_sl or 0):.0f}%")
        lines.append(f"{local:%a %d %b %H:%M} {iv.channel}{where}: {iv.need.contacts:,.1f} contacts, "
                     f"AHT {iv.need.aht_seconds:.0f}s, {iv.need.required} needed vs {sched}")
    note = None
    if len(busy) > MAX_DETAIL:
        note = (f"Showing the first {MAX_DETAIL} of {len(busy)} intervals with contacts; narrow the answer with a "
                f"site, a channel or one day (e.g. `staffing {plan.partner.slug} tomorrow voice intervals`).")
    return tuple(lines), note


def _chart(plan: Plan, label: str, one_day: bool) -> bytes | None:
    by_scope: dict[tuple, list] = {}
    for iv in plan.intervals:
        by_scope.setdefault((iv.channel, plan.site_name(iv.site_id) if plan.sites else ""), []).append(iv)
    fmt = "%H:%M" if one_day else "%a %H:%M"
    panels = [Panel(label=" · ".join(x for x in key if x),
                    ticks=tuple(iv.start.astimezone(plan.tz).strftime(fmt) for iv in ivs),
                    required=tuple(float(iv.need.required) for iv in ivs),
                    scheduled=tuple(iv.need.scheduled for iv in ivs)) for key, ivs in sorted(by_scope.items())]
    return staffing_chart(title=f"{plan.partner.name} {label}: agents needed vs scheduled", panels=panels) \
        if panels else None


@command("staffing", summary="Forecast vs schedule: agents needed and scheduled, gaps, expected service level.",
         usage=USAGE, examples=("staffing acme", "staffing acme krakow next-week", "staffing acme tomorrow voice intervals",
                                "staffing acme next-week volume +15%", "staffing acme next-week aht +20s"))
async def staffing(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    now = core.clock.now()
    text = " ".join(("staffing", *request.args))
    async with core.db.session() as session:
        tokens = await partners_by_token(session, actor)
        args = list(request.args)
        first = args[0].lower() if args else None
        partner = None
        if first == ALL:
            args = args[1:]
        elif first in tokens:
            partner = await resolve_partner(session, first, actor)
            args = args[1:]
        if partner is None and not actor.is_client_side:  # partner users: their own partner, always
            mine = await visible_partners(session, actor)
            partner = mine[0] if mine else None
        sites = None
        if partner is not None:
            site_rows = (await session.execute(select(Site.key, Site.name).where(Site.partner_id == partner.id))).all()
            sites = {key.lower(): key for key, _ in site_rows} | {name.lower(): key for key, name in site_rows}
        ask = split_args(args, set(tokens) if partner is None and actor.is_client_side else set(), sites)
        if partner is None:
            return await _portfolio(core, session, actor, ask, text=text, now=now)
        tz = ZoneInfo(partner.timezone)
        try:
            window = staffing_window(ask.window or DEFAULT_WINDOW, now=now, tz=tz)
        except WindowError as exc:
            raise CommandError(str(exc), usage=USAGE) from exc
        site_id = None
        if ask.site:
            site_id = (await session.execute(select(Site.id).where(Site.partner_id == partner.id,
                                                                    Site.key == ask.site))).scalar_one()
        plan = await load_plan(session, partner=partner, start=window.start_utc, end=window.end_utc,
                               site_id=site_id, channel=ask.channel, what_if=ask.what_if)
        change = None if ask.what_if.active else await forecast_change_since_previous(
            session, plan, window.start_utc, window.end_utc)
    notes = [f"No service-level target for {ch}: add one to plan its staffing." for ch in sorted(plan.no_goal)]
    if plan.version is not None:
        received = plan.version.received_at.astimezone(tz)
        line = f"Forecast version {plan.version.number}, received {received:%a %d %b %H:%M}"
        if change is not None and change[0] > 0:
            line += (f"; it changed this window from {change[0]:,.0f} to {change[1]:,.0f} contacts "
                     f"({100 * (change[1] - change[0]) / change[0]:+.1f}%) versus version {plan.version.number - 1}")
        notes.append(line + ".")
    days = tuple(StaffingDay(
        label=" · ".join(x for x in (day_text(d.day), d.channel, plan.site_name(d.site_id) if plan.sites else "") if x),
        contacts=d.contacts, required_hours=d.required_hours, scheduled_hours=d.scheduled_hours,
        expected_sl=d.expected_sl, target=d.target, short_intervals=d.short_intervals, intervals=d.intervals,
        peak_required=d.peak_required, peak_scheduled=d.peak_scheduled) for d in day_lines(plan))
    detail, detail_note = _detail(plan) if ask.intervals else ((), None)
    scope = " · ".join(x for x in (partner.name, plan.site_name(site_id) if site_id else None, ask.channel) if x)
    one_day = (window.end_utc - window.start_utc) <= timedelta(hours=25)
    label = window.label
    if not one_day and ".." not in label and "–" not in label:
        last = (window.end_utc - timedelta(seconds=1)).astimezone(tz).date()
        label = f"{label} ({day_text(window.start_utc.astimezone(tz).date())} – {day_text(last)})"
    return staffing_answer(StaffingAnswer(
        command_text=text, scope=scope, window_label=label, tz=partner.timezone, days=days,
        what_if=ask.what_if.label(), shrinkage=plan.policy.shrinkage, detail=detail, detail_note=detail_note,
        notes=tuple(notes), chart_png=_chart(plan, label, one_day) if plan.intervals else None,
    ))


async def _portfolio(core: Core, session, actor, ask: StaffingArgs, *, text: str, now: datetime) -> Reply:  # noqa: ANN001
    if ask.site or ask.intervals or ask.what_if.active:
        raise CommandError("Sites, intervals and what-ifs need one partner, e.g. `staffing acme next-week volume +15%`.")
    rows = []
    label = ask.window or DEFAULT_WINDOW
    for partner in await visible_partners(session, actor):
        tz = ZoneInfo(partner.timezone)
        try:
            window = staffing_window(label, now=now, tz=tz)
        except WindowError as exc:
            raise CommandError(str(exc), usage=USAGE) from exc
        plan = await load_plan(session, partner=partner, start=window.start_utc, end=window.end_utc,
                               channel=ask.channel)
        if not plan.intervals:
            rows.append((partner.name, 0, "no forecast"))
            continue
        lines = day_lines(plan)
        short = sum(d.short_intervals for d in lines)
        worst = max(lines, key=lambda d: d.short_intervals)
        rows.append((partner.name, short, f"{day_text(worst.day)} {worst.channel}" if short else
                     "covered" if any(d.scheduled_hours is not None for d in lines) else "not scheduled"))
    return portfolio_answer(rows, window_label=label, command_text=text)

