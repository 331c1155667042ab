"""The staffing plan: forecast vs schedule per interval, required agents, expected service level, shortfalls.

One place computes it; the ``staffing`` command, the shortfall warnings, the digest and the
benchmark all call ``load_plan``. Goals come from the partner's service-level targets (the most
specific active one for the site and channel) and its staffing policy (shrinkage, threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config.schema import StaffingPolicy
from bot.domain.staffing import Goal, IntervalNeed, WhatIf, interval_need
from bot.store.models import Partner, Site, Target
from bot.store.policy import load_policy
from bot.store.staffing import ForecastInterval, ForecastVersion, ScheduleInterval

NO_CHANGE = WhatIf()


@dataclass(frozen=True, slots=True)
class PlanInterval:
    site_id: int | None
    channel: str
    start: datetime  # UTC
    end: datetime
    need: IntervalNeed
    goal: Goal

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass
class Plan:
    partner: Partner
    tz: ZoneInfo
    policy: StaffingPolicy
    sites: dict[int, str]
    intervals: list[PlanInterval] = field(default_factory=list)
    no_goal: set[str] = field(default_factory=set)  # channels with a forecast but no service-level target
    version: ForecastVersion | None = None

    def site_name(self, site_id: int | None) -> str:
        return self.sites.get(site_id, "site?") if site_id is not None else "all sites"

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


async def staffing_policy(session: AsyncSession, partner_id: int) -> StaffingPolicy:
    """Return the partner's staffing policy, or the defaults (30% shrinkage)."""
    return await load_policy(session, partner_id, "staffing", StaffingPolicy) or StaffingPolicy()


def _goal_for(targets: Sequence[Target], site_id: int | None, channel: str) -> Target | None:
    """Pick the most specific service-level target for a site and channel."""
    best, best_rank = None, -1
    for t in targets:
        if t.channel not in (None, channel) or t.site_id not in (None, site_id):
            continue
        rank = (t.channel is not None) * 2 + (t.site_id is not None)
        # a daily target speaks for intervals better than a monthly one
        if rank > best_rank or rank == best_rank and t.window in ("hour", "day") and best.window not in ("hour", "day"):
            best, best_rank = t, rank
    return best


async def load_plan(session: AsyncSession, *, partner: Partner, start: datetime, end: datetime,
                    site_id: int | None = None, channel: str | None = None, what_if: WhatIf = NO_CHANGE) -> Plan:
    """Join forecast and schedule for intervals starting in [start, end) and compute each need.

    A (site, channel, local day) with any schedule row counts its missing intervals as 0 agents
    scheduled (WFM exports leave empty intervals out); without any, the day is "not scheduled".
    """
    tz = ZoneInfo(partner.timezone)
    policy = await staffing_policy(session, partner.id)
    sites = dict((await session.execute(select(Site.id, Site.name).where(Site.partner_id == partner.id))).all())
    targets = (await session.execute(select(Target).where(
        Target.partner_id == partner.id, Target.active.is_(True), Target.metric == "service_level"))).scalars().all()
    plan = Plan(partner=partner, tz=tz, policy=policy, sites=sites)
    plan.version = (await session.execute(select(ForecastVersion).where(ForecastVersion.partner_id == partner.id)
                                          .order_by(ForecastVersion.number.desc()).limit(1))).scalars().first()

    def scoped(model):  # noqa: ANN001, ANN202
        cols = (model.period_end, model.contacts, model.aht_seconds) if model is ForecastInterval else (model.agents,)
        stmt = select(model.site_id, model.channel, model.period_start, *cols).where(
            model.partner_id == partner.id, model.period_start >= start, model.period_start < end)
        if site_id is not None:
            stmt = stmt.where(model.site_id == site_id)
        if channel is not None:
            stmt = stmt.where(model.channel == channel)
        return stmt

    schedule: dict[tuple, float] = {}
    scheduled_days: set[tuple] = set()
    for sid, ch, p_start, agents in (await session.execute(scoped(ScheduleInterval))).all():
        schedule[(sid, ch, p_start)] = agents
        scheduled_days.add((sid, ch, p_start.astimezone(tz).date()))
    goals: dict[tuple, Goal | None] = {}
    shrink = policy.shrinkage / 100
    rows = (await session.execute(scoped(ForecastInterval).order_by(ForecastInterval.period_start))).all()
    for sid, ch, p_start, p_end, contacts, aht in rows:
        if (sid, ch) not in goals:
            target = _goal_for(targets, sid, ch)
            goals[(sid, ch)] = None if target is None else Goal(
                target=min(max(target.target_value / 100, 0.01), 0.999),
                threshold_seconds=policy.threshold_seconds(ch), shrinkage=shrink)
        goal = goals[(sid, ch)]
        if goal is None:
            plan.no_goal.add(ch)
            continue
        if what_if.active:
            contacts, aht = what_if.apply(contacts, aht)
        agents = schedule.get((sid, ch, p_start))
        if agents is None and (sid, ch, p_start.astimezone(tz).date()) in scheduled_days:
            agents = 0.0
        need = interval_need(contacts=contacts, aht_seconds=aht,
                             interval_seconds=(p_end - p_start).total_seconds(), goal=goal, scheduled=agents)
        plan.intervals.append(PlanInterval(sid, ch, p_start, p_end, need, goal))
    return plan


@dataclass(frozen=True, slots=True)
class DayLine:
    """One local day of one site and channel."""

    day: date
    site_id: int | None
    channel: str
    intervals: int
    contacts: float
    required_hours: float
    scheduled_hours: float | None  # None: not scheduled
    expected_sl: float | None  # contact-weighted over the scheduled intervals
    target: float
    short_intervals: int
    peak_required: int
    peak_scheduled: float | None

    @property
    def gap_hours(self) -> float | None:
        return None if self.scheduled_hours is None else self.scheduled_hours - self.required_hours


def day_lines(plan: Plan) -> list[DayLine]:
    """Sum the plan per local day, site and channel (days of 92 or 100 quarter hours across DST)."""
    groups: dict[tuple, list[PlanInterval]] = {}
    for iv in plan.intervals:
        groups.setdefault((plan.local_day(iv.start), iv.site_id, iv.channel), []).append(iv)
    out = []
    for (day, sid, ch), ivs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1] or 0)):
        scheduled = [iv for iv in ivs if iv.need.scheduled is not None]
        weighted = [(iv.need.contacts, iv.need.expected_sl) for iv in scheduled if iv.need.expected_sl is not None]
        volume = sum(c for c, _ in weighted)
        short = [iv for iv in ivs if _short(iv, 0.0)]
        # the worst short interval, or (none short) the busiest one
        peak = max(short, key=lambda iv: (iv.need.required - (iv.need.scheduled or 0), iv.need.required)) if short \
            else max(ivs, key=lambda iv: iv.need.required)
        out.append(DayLine(
            day=day, site_id=sid, channel=ch, intervals=len(ivs), contacts=sum(iv.need.contacts for iv in ivs),
            required_hours=sum(iv.need.required * iv.minutes / 60 for iv in ivs),
            scheduled_hours=sum(iv.need.scheduled * iv.minutes / 60 for iv in scheduled) if scheduled else None,
            expected_sl=sum(c * s for c, s in weighted) / volume if volume else None,
            target=ivs[0].goal.target, short_intervals=len(short),
            peak_required=peak.need.required, peak_scheduled=peak.need.scheduled,
        ))
    return out


def _short(iv: PlanInterval, margin: float) -> bool:
    sl = iv.need.expected_sl
    return sl is not None and iv.need.contacts > 0 and sl < iv.goal.target - margin


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Consecutive short intervals of one site and channel (a span of a warning)."""

    day: date
    site_id: int | None
    channel: str
    start: datetime
    end: datetime
    scheduled: float  # at the worst interval
    required: int
    expected_sl: float  # contact-weighted over the span
    target: float

    def as_dict(self, plan: Plan) -> dict:
        local = (self.start.astimezone(plan.tz), self.end.astimezone(plan.tz))
        return {"day": self.day.isoformat(), "site": plan.site_name(self.site_id) if plan.sites else "",
                "channel": self.channel, "from": local[0].strftime("%H:%M"), "to": local[1].strftime("%H:%M"),
                "scheduled": round(self.scheduled, 1), "required": self.required,
                "expected_sl": round(100 * self.expected_sl), "target": round(100 * self.target)}


def shortfalls(plan: Plan, *, margin_points: float | None = None) -> list[Shortfall]:
    """Return spans where the expected SL with the scheduled agents is under target minus the margin."""
    margin = (plan.policy.margin if margin_points is None else margin_points) / 100
    by_scope: dict[tuple, list[PlanInterval]] = {}
    for iv in sorted(plan.intervals, key=lambda iv: iv.start):
        by_scope.setdefault((iv.site_id, iv.channel), []).append(iv)
    out: list[Shortfall] = []
    for (sid, ch), ivs in by_scope.items():
        run: list[PlanInterval] = []
        for iv in ivs + [None]:  # type: ignore[list-item]
            if iv is not None and _short(iv, margin) and (not run or (run[-1].end == iv.start and
                                                               plan.local_day(run[-1].start) == plan.local_day(iv.start))):
                run.append(iv)
                continue
            if run:
                # the same pick as the day's line in `staffing` (largest gap, then most needed), so the
                # warning and the answer name one interval for one day
                worst = max(run, key=lambda r: (r.need.required - (r.need.scheduled or 0), r.need.required))
                volume = sum(r.need.contacts for r in run)
                out.append(Shortfall(
                    day=plan.local_day(run[0].start), site_id=sid, channel=ch, start=run[0].start, end=run[-1].end,
                    scheduled=worst.need.scheduled or 0.0, required=worst.need.required,
                    expected_sl=sum(r.need.contacts * (r.need.expected_sl or 0) for r in run) / volume,
                    target=run[0].goal.target))
            run = [iv] if iv is not None and _short(iv, margin) else []
    return sorted(out, key=lambda s: (s.start, s.channel, s.site_id or 0))


def local_days(start_day: date, count: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC edges of ``count`` local days from ``start_day``."""
    first = datetime.combine(start_day, datetime.min.time(), tz)
    last = datetime.combine(start_day + timedelta(days=count), datetime.min.time(), tz)
    return first, last


async def forecast_change_since_previous(session: AsyncSession, plan: Plan, start: datetime, end: datetime,
                                         ) -> tuple[float, float] | None:
    """Return (old, new) contacts over [start, end) for the values the newest version replaced."""
    from sqlalchemy import func

    from bot.store.staffing import ForecastChange

    if plan.version is None or plan.version.changed == 0:
        return None
    row = (await session.execute(select(func.sum(ForecastChange.old_contacts), func.sum(ForecastChange.new_contacts))
                                 .where(ForecastChange.version_id == plan.version.id,
                                        ForecastChange.period_start >= start, ForecastChange.period_start < end))).one()
    return (float(row[0]), float(row[1])) if row[0] is not None else None


