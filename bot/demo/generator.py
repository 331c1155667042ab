"""Generate contact-center interval rows in the ingest CSV contract, seeded and reproducible.

The model: arrivals follow a per-channel intraday curve and weekday seasonality (Poisson
noise); staffing is planned per interval with Erlang C for the forecast, then loses agents
to absenteeism, random shortfalls and injected incidents; the realised service level, ASA
and abandonment come from Erlang C on the actual volume, AHT (log-normal) and agents.
Daily rows carry survey and QA counts whose odds move with that day's service.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from bot.domain import erlang

COLUMNS: tuple[str, ...] = (
    "partner", "site", "channel", "interval_start", "interval_minutes",
    "offered", "answered", "answered_within_sla", "sla_threshold_seconds", "abandoned",
    "wait_seconds", "handled", "handle_seconds", "fcr_resolved", "csat_positive",
    "csat_responses", "nps_promoters", "nps_passives", "nps_detractors", "ces_points",
    "ces_responses", "qa_points", "qa_max", "backlog", "first_response_seconds", "tickets",
    "leavers", "headcount", "trainings_completed", "trainings_assigned", "adherent_seconds",
    "scheduled_seconds",
)

Row = dict[str, object]

# Relative arrivals per local hour (0..23): voice peaks morning and afternoon, chat leans
# into the evening, email arrives through business hours, social peaks in the evening.
_CURVES: dict[str, tuple[float, ...]] = {
    "voice": (0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 3.0, 5.0, 6.0, 5.5,
              4.5, 4.5, 5.5, 5.6, 4.6, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5, 0.3),
    "chat": (0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.0, 2.0, 3.0, 3.5, 3.5,
             4.0, 4.0, 4.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.0, 5.0, 3.5, 1.5),
    "email": (0.5, 0.4, 0.4, 0.4, 0.4, 0.5, 0.8, 1.5, 4.0, 4.2, 4.2, 4.0,
              3.6, 3.8, 4.0, 4.0, 3.8, 3.4, 2.5, 1.5, 1.2, 1.0, 0.8, 0.6),
    "social": (0.5, 0.4, 0.3, 0.3, 0.3, 0.4, 0.8, 1.5, 2.0, 2.2, 2.4, 2.6,
               3.0, 3.0, 3.0, 3.2, 3.6, 4.5, 5.0, 5.5, 5.5, 5.0, 3.5, 1.5),
}
# Monday..Sunday volume factors.
_WEEKDAY: dict[str, tuple[float, ...]] = {
    "voice": (1.25, 1.05, 1.0, 0.97, 0.93, 0.45, 0.25),
    "chat": (1.15, 1.05, 1.0, 0.98, 0.97, 0.8, 0.7),
    "email": (1.3, 1.05, 1.0, 0.95, 0.9, 0.4, 0.3),
    "social": (1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.15),
}
_SHARES = {ch: np.array(c) / sum(c) for ch, c in _CURVES.items()}
# Customer patience (s) drives abandonment as waits grow.
_PATIENCE = {"voice": 400.0, "chat": 400.0, "social": 1800.0, "email": math.inf}
_SHRINKAGE = 0.10
_FCR = {"voice": 0.74, "chat": 0.78, "email": 0.70, "social": 0.66}
# Email is worked in business hours (local) on weekdays, with short weekend shifts.
_EMAIL_OPEN = {d: (8, 18) for d in range(5)} | {5: (9, 15), 6: (12, 18)}


@dataclass(frozen=True)
class ChannelSpec:
    """One channel at one site: weekday volume, mean handle time and the SLA to plan for."""

    channel: str
    daily_volume: float  # contacts on an average weekday
    aht_seconds: float
    threshold_seconds: int = 20
    target: float = 0.80  # contractual service level (0..1)
    plan_margin: float = 0.08  # WFM plans a little above target to absorb absence


@dataclass(frozen=True)
class SiteSpec:
    key: str
    channels: tuple[ChannelSpec, ...]


@dataclass(frozen=True)
class PartnerSpec:
    slug: str
    timezone: str
    sites: tuple[SiteSpec, ...]
    quality: float = 0.0  # shifts CSAT/NPS/QA odds up or down (e.g. -0.03)
    name: str = ""


@dataclass(frozen=True)
class Incident:
    """A staffing problem: ``staffing_factor`` of the usual agents show up for ``days`` days."""

    partner: str
    site: str
    channel: str
    start: date
    days: int
    staffing_factor: float

    def factor_on(self, day: date) -> float:
        return self.staffing_factor if self.start <= day < self.start + timedelta(days=self.days) else 1.0


@dataclass
class _StreamState:
    backlog: float = 0.0
    headcount: int = 0
    aht_drift: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=200_000)
def _planned_agents(traffic: float, aht: float, threshold: float, target: float) -> int:
    needed = erlang.required_agents(traffic=traffic, aht_seconds=aht,
                                    threshold_seconds=threshold, target=target)
    # Schedules add the expected absence (shrinkage) on top of the Erlang requirement.
    return max(1, math.ceil(needed / (1 - _SHRINKAGE)))


@lru_cache(maxsize=500_000)
def _queue(traffic: float, agents: int, aht: float, threshold: float) -> tuple[float, float]:
    """Return (service level, ASA seconds), with a saturated-queue estimate when N <= A."""
    if traffic <= 0:
        return 1.0, 0.0
    if agents <= traffic:
        # Erlang C has no steady state here; the queue grows, so waits run long and few
        # contacts make the threshold.
        ratio = agents / traffic if traffic else 0.0
        return 0.25 * ratio**4, min(900.0, aht * (traffic - agents + 1) / max(agents, 1) + aht * 0.5)
    sl = erlang.service_level(traffic=traffic, agents=agents, aht_seconds=aht, threshold_seconds=threshold)
    asa = erlang.average_speed_of_answer(traffic=traffic, agents=agents, aht_seconds=aht)
    return sl, min(asa, 900.0)


def _seed_for(seed: int, *parts: str) -> list[int]:
    # crc32 is stable across runs (unlike hash()), so each stream's draws do not depend on
    # which other partners are generated alongside it.
    return [seed, *(zlib.crc32(p.encode()) for p in parts)]


def _day_intervals(day: date, tz: ZoneInfo, minutes: int) -> list[datetime]:
    """Return the local interval starts of one local day (23 or 25 hours across DST)."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
    step = timedelta(minutes=minutes)
    count = int((end - start) / step)
    return [(start + k * step).astimezone(tz) for k in range(count)]


def _blank(partner: str, site: str, channel: str, start: str, minutes: int) -> Row:
    row: Row = dict.fromkeys(COLUMNS)
    row.update(partner=partner, site=site, channel=channel, interval_start=start, interval_minutes=minutes)
    return row


def generate(
    *,
    partners: Sequence[PartnerSpec],
    start: date,
    days: int,
    seed: int,
    interval_minutes: int = 15,
    incidents: Sequence[Incident] = (),
) -> Iterator[Row]:
    """Yield ingest-CSV rows (dicts keyed by COLUMNS; None = not measured) for every stream."""
    if interval_minutes not in (15, 30, 60):
        raise ValueError("interval_minutes must be 15, 30 or 60")
    if days < 0:
        raise ValueError("days must be non-negative")
    for p in partners:
        tz = ZoneInfo(p.timezone)
        for site in p.sites:
            for ch in site.channels:
                rng = np.random.default_rng(_seed_for(seed, p.slug, site.key, ch.channel))
                mine = [i for i in incidents
                        if (i.partner, i.site, i.channel) == (p.slug, site.key, ch.channel)]
                yield from _stream(p=p, site=site, ch=ch, tz=tz, start=start, days=days,
                                   rng=rng, minutes=interval_minutes, incidents=mine)


def _stream(
    *, p: PartnerSpec, site: SiteSpec, ch: ChannelSpec, tz: ZoneInfo, start: date, days: int,
    rng: np.random.Generator, minutes: int, incidents: list[Incident],
) -> Iterator[Row]:
    interval_s = minutes * 60
    state = _StreamState(backlog=round(ch.daily_volume * 0.08))
    peak_traffic = ch.daily_volume * 1.25 * float(_SHARES[ch.channel].max()) * ch.aht_seconds / 3600
    state.headcount = max(2, round(peak_traffic * 1.6 + 1))
    for d in range(days):
        day = start + timedelta(days=d)
        locals_ = _day_intervals(day, tz, minutes)
        hours = np.array([t.hour for t in locals_])
        dow = day.weekday()
        level = ch.daily_volume * _WEEKDAY[ch.channel][dow] * float(rng.lognormal(0.0, 0.03))
        expected = level * _SHARES[ch.channel][hours] * (minutes / 60)
        offered = rng.poisson(expected)
        # Absence is a day-level draw; shortfalls hit about one day in thirty.
        absent = float(rng.beta(3, 47))
        shortfall = 0.9 if rng.random() < 0.03 else 1.0
        incident = math.prod(i.factor_on(day) for i in incidents)
        available = max(0.0, min(1.0, (1 - absent) * shortfall * incident))
        state.aht_drift = 0.8 * state.aht_drift + 0.2 * float(rng.lognormal(0.0, 0.05))
        n = np.maximum(offered, 1)
        aht = ch.aht_seconds * state.aht_drift * rng.lognormal(-0.045 / n, 0.3 / np.sqrt(n))
        isos = [t.isoformat() for t in locals_]
        if ch.channel == "email":
            rows, service = _email_day(p=p, site=site, ch=ch, isos=isos, hours=hours, dow=dow,
                                       offered=offered, aht=aht, available=available,
                                       rng=rng, state=state, minutes=minutes)
        else:
            rows, service = _queue_day(p=p, site=site, ch=ch, isos=isos, expected=expected,
                                       offered=offered, aht=aht, available=available,
                                       rng=rng, interval_s=interval_s, minutes=minutes)
        scheduled = int(rows[0].pop("_scheduled", 0))  # type: ignore[call-overload]
        yield from rows
        yield _daily_row(p=p, site=site, ch=ch, day=day, tz=tz, rows=rows, service=service,
                         absent=absent, scheduled=scheduled, rng=rng, state=state)


def _queue_day(
    *, p: PartnerSpec, site: SiteSpec, ch: ChannelSpec, isos: list[str], expected: np.ndarray,
    offered: np.ndarray, aht: np.ndarray, available: float, rng: np.random.Generator,
    interval_s: int, minutes: int,
) -> tuple[list[Row], float]:
    plan_target = min(0.97, ch.target + ch.plan_margin)
    planned = [
        _planned_agents(round(float(e) * ch.aht_seconds / interval_s, 2), ch.aht_seconds,
                        ch.threshold_seconds, plan_target)
        for e in expected
    ]
    agents = rng.binomial(np.array(planned), available).tolist()
    traffic = offered * aht / interval_s
    sl = np.empty(len(isos))
    asa = np.empty(len(isos))
    for k, (a, n_ag, h) in enumerate(zip(traffic.tolist(), agents, aht.tolist(), strict=True)):
        sl[k], asa[k] = _queue(round(a, 1), n_ag, round(h, -1) or 10.0, ch.threshold_seconds)
    p_abandon = np.clip(0.004 + 0.45 * (1 - np.exp(-asa / _PATIENCE[ch.channel])), 0, 0.95)
    abandoned = rng.binomial(offered, p_abandon)
    answered = offered - abandoned
    within = np.minimum(answered, rng.binomial(offered, np.clip(sl, 0, 1)))
    wait = np.rint(answered * asa * rng.lognormal(0, 0.15, len(isos))).astype(np.int64)
    handle = np.rint(answered * aht).astype(np.int64)
    fcr_p = np.clip(_FCR[ch.channel] + p.quality + 0.05 * (sl - 0.8), 0.2, 0.98)
    fcr = rng.binomial(answered, fcr_p)
    rows = []
    cols = zip(isos, offered.tolist(), answered.tolist(), within.tolist(), abandoned.tolist(),
               wait.tolist(), handle.tolist(), fcr.tolist(), strict=True)
    for iso, off, ans, win, ab, w, hs, fr in cols:
        row = _blank(p.slug, site.key, ch.channel, iso, minutes)
        row.update(offered=off, answered=ans, answered_within_sla=win,
                   sla_threshold_seconds=ch.threshold_seconds, abandoned=ab, wait_seconds=w,
                   handled=ans, handle_seconds=hs, fcr_resolved=fr)
        rows.append(row)
    total = int(offered.sum())
    service = float(within.sum()) / total if total else 1.0
    rows[0]["_scheduled"] = sum(planned) * interval_s  # for the daily row; popped before yield
    return rows, service


def _email_day(
    *, p: PartnerSpec, site: SiteSpec, ch: ChannelSpec, isos: list[str], hours: np.ndarray,
    dow: int, offered: np.ndarray, aht: np.ndarray, available: float,
    rng: np.random.Generator, state: _StreamState, minutes: int,
) -> tuple[list[Row], float]:
    interval_s = minutes * 60
    open_from, open_to = _EMAIL_OPEN.get(dow, (0, 0))
    is_open = (hours >= open_from) & (hours < open_to)
    # Backlog-driven plan: enough agents to work today's forecast plus the open backlog
    # within today's open hours, with some slack.
    open_seconds = int(is_open.sum()) * interval_s
    workload = (ch.daily_volume * _WEEKDAY["email"][dow] + state.backlog) * ch.aht_seconds
    planned = max(1, math.ceil(workload / open_seconds * 1.2)) if open_seconds else 0
    agents = np.where(is_open, rng.binomial(planned, available, len(isos)), 0)
    capacity = np.floor(agents * interval_s / aht * rng.uniform(0.85, 1.0, len(isos))).astype(np.int64)
    rate_per_s = max(ch.daily_volume, 1.0) / 86400
    rows = []
    frt_total = 0.0
    tickets_total = 0
    for k, iso in enumerate(isos):
        arrived = int(offered[k])
        before = state.backlog
        done = int(min(before + arrived, capacity[k]))
        state.backlog = before + arrived - done
        # Little's law: a FIFO queue of L items at arrival rate lambda has waited L/lambda.
        age = min(3 * 86400.0, (before + arrived / 2) / rate_per_s)
        frs = round(done * age * float(rng.lognormal(0, 0.1))) if done else 0
        frt_total += frs
        tickets_total += done
        row = _blank(p.slug, site.key, ch.channel, iso, minutes)
        row.update(offered=arrived, handled=done, handle_seconds=round(done * float(aht[k])),
                   fcr_resolved=int(rng.binomial(done, min(0.98, _FCR["email"] + p.quality))),
                   backlog=int(state.backlog), first_response_seconds=frs, tickets=done)
        rows.append(row)
    frt_hours = frt_total / tickets_total / 3600 if tickets_total else 3.0
    service = float(np.clip(0.85 - 0.08 * (frt_hours - 3.0), 0.3, 0.97))
    rows[0]["_scheduled"] = int(planned * is_open.sum() * interval_s)
    return rows, service


def _daily_row(
    *, p: PartnerSpec, site: SiteSpec, ch: ChannelSpec, day: date, tz: ZoneInfo,
    rows: list[Row], service: float, absent: float, scheduled: int,
    rng: np.random.Generator, state: _StreamState,
) -> Row:
    handled = sum(int(r["handled"]) for r in rows)  # type: ignore[arg-type]
    g = float(np.clip(service - 0.82, -0.5, 0.15))
    q = p.quality
    start = datetime(day.year, day.month, day.day, tzinfo=tz).isoformat()
    row = _blank(p.slug, site.key, ch.channel, start, 1440)
    csat_n = int(rng.binomial(handled, 0.12))
    row.update(csat_responses=csat_n,
               csat_positive=int(rng.binomial(csat_n, float(np.clip(0.88 + q + 0.5 * g, 0.2, 0.99)))))
    promoters = float(np.clip(0.48 + q + 0.9 * g, 0.05, 0.9))
    detractors = float(np.clip(0.14 - q / 2 - 0.7 * g, 0.02, 0.8))
    passives = max(0.0, 1.0 - promoters - detractors)
    total = promoters + detractors + passives
    nps = rng.multinomial(int(rng.binomial(handled, 0.06)), [promoters / total, passives / total, detractors / total])
    row.update(nps_promoters=int(nps[0]), nps_passives=int(nps[1]), nps_detractors=int(nps[2]))
    ces_n = int(rng.binomial(handled, 0.05))
    ces_avg = float(np.clip(rng.normal(2.15 - 2.0 * g - q, 0.1), 1.0, 7.0))
    row.update(ces_responses=ces_n, ces_points=int(np.clip(round(ces_n * ces_avg), ces_n, 7 * ces_n)))
    evaluations = int(min(handled, rng.poisson(6)))
    qa_max = evaluations * 100
    qa_share = float(np.clip(rng.normal(0.89 + q + 0.1 * g, 0.025), 0.4, 1.0))
    row.update(qa_max=qa_max, qa_points=int(round(qa_max * qa_share)))
    adherence = float(np.clip(rng.normal(0.92 - 0.5 * absent, 0.015), 0.5, 1.0))
    row.update(scheduled_seconds=scheduled, adherent_seconds=int(scheduled * adherence))
    if day.weekday() == 0:
        leavers = int(min(state.headcount, rng.poisson(state.headcount * 0.007)))
        assigned = int(rng.poisson(state.headcount * 0.15))
        row.update(headcount=state.headcount, leavers=leavers, trainings_assigned=assigned,
                   trainings_completed=int(rng.binomial(assigned, 0.86)))
        # Backfill lags: leavers are replaced by next week, a hire or two sometimes extra.
        state.headcount = max(2, state.headcount - leavers + int(rng.poisson(leavers + 0.3)))
    return row
