"""Build weekly digests: one per partner and a portfolio one for the client, for the last complete week.

KPI values, targets, week-over-week deltas and 8-week sparklines all come from
bot.services.kpi_query (the one KPI query service). "What changed" lines are computed from
data: the largest movers, breach episodes opened and recovered in the week (with duration),
escalations opened/resolved with mean time to acknowledge, and the next scheduled QBR.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.chart import Series, trend_chart
from bot.compose.digest import DigestView, digest_message
from bot.compose.kpi import kpi_row
from bot.config.schema import DigestSchedule
from bot.domain.access import Actor
from bot.domain.escalation import counts_in_aggregate
from bot.domain.metrics import format_delta, lookup
from bot.domain.scorecard import DEFAULT_WEIGHTS, Scorecard, rank, score_partner
from bot.domain.wording import plural
from bot.messages import Message
from bot.services.kpi_query import KpiLine, query_kpis
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Partner, Site, Target
from bot.store.policy import load_policy
from bot.store.qbr import Qbr

TREND_WEEKS = 8
# The QBR pack's KPIs: the scorecard five plus service level.
PACK_METRICS = ("service_level", "csat", "nps", "ces", "fcr", "aht")
MOVERS = 3

# Features add "What changed" lines (feedback received, reverse reports, ...) by appending a
# provider: (session, partners, start, end, with_partner) -> lines, each prefixed with the
# partner's name when ``with_partner`` (the portfolio digest).
ChangeProvider = Callable[[AsyncSession, Sequence[Partner], datetime, datetime, bool], Awaitable[list[str]]]
DIGEST_CHANGES: list[ChangeProvider] = []


def week_label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def moment_after_week(week: str, tz: str) -> datetime:
    """Return a moment in the week after ISO ``week`` (e.g. 2026-W46) so "last-week" resolves to it."""
    year, _, number = week.partition("-W")
    monday = date.fromisocalendar(int(year), int(number), 1) + timedelta(days=7)
    return datetime.combine(monday, time(12, 0), ZoneInfo(tz))


def target_label(target: Target | None, sites: Mapping[int, str] | None = None) -> str:
    """Name what breached: "Service level (Kraków, voice, daily target)"; "SLA" if the target is gone."""
    if target is None:
        return "SLA"
    metric = lookup(target.metric)
    site = (sites or {}).get(target.site_id) if target.site_id is not None else "all sites"
    window = {"day": "daily", "hour": "hourly"}.get(target.window, f"{target.window}ly")
    scope = ", ".join(x for x in (site, target.channel, f"{window} target") if x)
    return f"{metric.label if metric else target.metric} ({scope})"


async def site_names(session: AsyncSession, partner_ids: Sequence[int]) -> dict[int, str]:
    """Return every site's name by id for ``partner_ids``."""
    if not partner_ids:
        return {}
    rows = (await session.execute(select(Site.id, Site.name).where(Site.partner_id.in_(list(partner_ids))))).all()
    return {i: n for i, n in rows}


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {int(delta.total_seconds() // 60) % 60}m"


async def weights_for(session: AsyncSession, partner_id: int | None) -> dict[str, float]:
    """Return the scorecard weights from the digest policy, else 20% each."""
    policy = await load_policy(session, partner_id, "digest", DigestSchedule)
    return dict(policy.scorecard) if policy else dict(DEFAULT_WEIGHTS)


def _primary(lines: Sequence[KpiLine], metric: str) -> KpiLine | None:
    """Pick the partner-wide line for ``metric`` (else its first scope)."""
    found = [line for line in lines if line.metric.key == metric]
    for line in found:
        if line.channel is None:
            return line
    return found[0] if found else None


def scorecard_of(partner: Partner, lines: Sequence[KpiLine], weights: Mapping[str, float], *, back: int = 0) -> Scorecard:
    """Score ``partner`` from its KPI lines; ``back`` weeks before the queried one uses the trend."""
    values: dict[str, float | None] = {}
    targets: dict[str, float | None] = {}
    for metric in weights:
        line = _primary(lines, metric)
        if line is None:
            continue
        series = line.trend
        values[metric] = series[-1 - back] if len(series) > back else None
        targets[metric] = line.target.target_value if line.target else None
    return score_partner(partner.name, values=values, targets=targets, weights=weights)


async def _changes(session: AsyncSession, partners: Sequence[Partner], lines: Sequence[KpiLine],
                   start: datetime, end: datetime, *, with_partner: bool,
                   viewer: Actor | None = None) -> tuple[list[str], int]:
    """Return the week's "What changed" lines and how many breach episodes were open at week end.

    ``start``/``end`` bound every partner's week; each partner's own local week (from its KPI
    lines) decides what counts for it, so a portfolio digest judges each partner by its week.
    """
    weeks = {line.partner.id: (line.window.start_utc, line.window.end_utc) for line in lines}
    movers = sorted(
        (line for line in lines if line.delta and line.previous_value),
        key=lambda line: -abs(line.delta / line.previous_value),  # relative move, so units compare
    )[:MOVERS]
    out = []
    for line in movers:
        who = f"{line.partner.name}: " if with_partner else ""
        verb = "improved" if line.improved else "worsened"
        out.append(f"{who}{line.metric.label} {verb} {format_delta(line.metric, line.delta)} week over week")
    names = {p.id: p.name for p in partners}
    zones = {p.id: ZoneInfo(p.timezone) for p in partners}
    episodes = (await session.execute(select(BreachEpisode).where(
        BreachEpisode.partner_id.in_(list(names)), BreachEpisode.opened_at < end,
        or_(BreachEpisode.opened_at >= start, BreachEpisode.recovered_at.is_(None),
            BreachEpisode.recovered_at >= start),
    ).order_by(BreachEpisode.opened_at, BreachEpisode.id))).scalars().all()
    targets = {t.id: t for t in (await session.execute(select(Target).where(
        Target.id.in_({e.target_id for e in episodes})))).scalars().all()} if episodes else {}
    sites = await site_names(session, list(names)) if episodes else {}
    episodes = [e for e in episodes if e.opened_at < weeks.get(e.partner_id, (start, end))[1]]
    for e in episodes:
        w_start, w_end = weeks.get(e.partner_id, (start, end))
        who = f"{names[e.partner_id]}: " if with_partner else ""
        what = target_label(targets.get(e.target_id), sites)
        opened = f"{e.opened_at.astimezone(zones[e.partner_id]):%a %d %b %H:%M}"
        if e.recovered_at is not None and e.recovered_at < w_end:
            if e.recovered_at >= w_start:
                out.append(f"{who}{what} breach recovered after {_duration(e.recovered_at - e.opened_at)} "
                           f"({plural(e.windows_breached, 'window')} breached)")
            else:  # opened and recovered before the week: not this week's news
                continue
        elif e.opened_at >= w_start:
            out.append(f"{who}{what} breach opened {opened}, still open at week end")
        else:
            out.append(f"{who}{what} breach open since {opened}, still open at week end")
    open_at_end = sum(1 for e in episodes
                      if e.recovered_at is None or e.recovered_at >= weeks.get(e.partner_id, (start, end))[1])
    escalations = (await session.execute(select(Escalation).where(
        Escalation.partner_id.in_(list(names)),
        or_(and_(Escalation.opened_at >= start, Escalation.opened_at < end),
            and_(Escalation.first_resolved_at >= start, Escalation.first_resolved_at < end)),
    ).order_by(Escalation.opened_at, Escalation.id))).scalars().all()
    # the same visibility as the list: no data-protection ones in a channel or for whoever may not see them
    escalations = [e for e in escalations if counts_in_aggregate(viewer, partner_id=e.partner_id,
                                                                 category=e.category, filed_by=e.filed_by)]
    for partner_id in names:
        w_start, w_end = weeks.get(partner_id, (start, end))
        mine = [e for e in escalations if e.partner_id == partner_id]
        opened = [e for e in mine if w_start <= e.opened_at < w_end]
        resolved = [e for e in mine if e.first_resolved_at and w_start <= e.first_resolved_at < w_end]
        if not opened and not resolved:
            continue
        acks = [e.first_acknowledged_at - e.opened_at for e in opened if e.first_acknowledged_at]
        ack = f"; mean time to acknowledge {_duration(sum(acks, timedelta()) / len(acks))}" if acks else ""
        who = f"{names[partner_id]}: " if with_partner else ""
        out.append(f"{who}{plural(len(opened), 'escalation')} opened, {len(resolved)} resolved{ack}")
    import bot.features  # noqa: F401  (registers the feature providers)

    for provider in DIGEST_CHANGES:
        out += await provider(session, partners, start, end, with_partner)
    for partner in partners:
        nxt = (await session.execute(select(Qbr).where(
            Qbr.partner_id == partner.id, Qbr.status == "scheduled", Qbr.scheduled_at >= end,
        ).order_by(Qbr.scheduled_at))).scalars().first()
        if nxt is not None:
            who = f"{partner.name}: " if with_partner else ""
            local = nxt.scheduled_at.astimezone(ZoneInfo(partner.timezone))
            out.append(f"{who}next QBR {local:%a %d %b %Y %H:%M} ({partner.timezone})")
    return out, open_at_end


def _chart(title: str, lines: Sequence[KpiLine], weights: Mapping[str, float]) -> bytes | None:
    series = []
    weeks: list[str] = []
    for metric in weights:
        line = _primary(lines, metric)
        if line is None or not any(v is not None for v in line.trend):
            continue
        weeks = [w.label for w in line.trend_windows]
        series.append(Series(line.metric.label, line.trend, line.target.target_value if line.target else None))
    return trend_chart(title=title, weeks=weeks, series=series) if series else None


async def build_digest(session: AsyncSession, *, partner: Partner, now: datetime, chart: bool = True,
                       viewer: Actor | None = None) -> tuple[str, Message]:
    """Build the weekly digest for ``partner`` for the last complete week before ``now`` (partner tz)."""
    weights = await weights_for(session, partner.id)
    lines = await query_kpis(session, partners=[partner], metrics=list(weights), window_spec="last-week",
                             now=now, trend=TREND_WEEKS)
    window = lines[0].window
    week = week_label(window.start.date())
    current = scorecard_of(partner, lines, weights)
    previous = scorecard_of(partner, lines, weights, back=1)
    card = rank([current], previous={current.partner: previous.score})
    changes, open_at_end = await _changes(session, [partner], lines, window.start_utc, window.end_utc,
                                          with_partner=False, viewer=viewer)
    view = DigestView(
        title_scope=partner.name, week=week, period=f"{window.label} ({partner.timezone})",
        kpis=tuple(kpi_row(line) for line in lines), scorecards=tuple(card), changes=tuple(changes),
        open_breaches=open_at_end,
        chart_png=_chart(f"{partner.name} {week}", lines, weights) if chart else None,
    )
    return week, digest_message(view)


async def build_portfolio_digest(session: AsyncSession, *, partners: Sequence[Partner], now: datetime,
                                 chart: bool = False) -> tuple[str, Message]:
    """Build the client's portfolio digest: every partner's KPIs, ranked scorecards, what changed."""
    weights = await weights_for(session, None)
    lines = await query_kpis(session, partners=list(partners), metrics=list(weights), window_spec="last-week",
                             now=now, trend=TREND_WEEKS)
    week = week_label(lines[0].window.start.date()) if lines else week_label(now.date() - timedelta(days=7))
    cards, previous = [], {}
    for partner in partners:
        mine = [line for line in lines if line.partner.id == partner.id]
        cards.append(scorecard_of(partner, mine, weights))
        previous[partner.name] = scorecard_of(partner, mine, weights, back=1).score
    starts = [line.window.start_utc for line in lines] or [now]
    ends = [line.window.end_utc for line in lines] or [now]
    changes, open_at_end = await _changes(session, partners, lines, min(starts), max(ends), with_partner=True)
    view = DigestView(
        title_scope="Portfolio", week=week, period=f"{week}, each partner's own week",
        kpis=tuple(kpi_row(line, with_partner=True) for line in lines),
        scorecards=tuple(rank(cards, previous=previous)), changes=tuple(changes), open_breaches=open_at_end,
    )
    return week, digest_message(view)
