"""What the dashboard pages show, for one viewer: the chat's own answers and queries, gathered per page.

Every part comes from the service or composer chat uses (kpi_query, the digest scorecard, the
sla answer, the Home sections, feedback results, report list, the QBR pack), authorized with the
same functions in bot/ (visible_partners, can_see_partner, can_view). Read-only: nothing here
writes, so the web side never changes state (the QBR list reads the schedule as it stands).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose import feedback as feedback_compose
from bot.compose.breach import open_breaches_section
from bot.compose.chart import Series
from bot.compose.escalation import event_line, level_label, when
from bot.compose.kpi import kpi_row, sla_status
from bot.compose.qbr import PackView, local_time
from bot.compose.report import report_list
from bot.compose.svg import sparkline_svg, trend_svg
from bot.domain.access import Actor, require_registered
from bot.domain.escalation import can_view
from bot.domain.metrics import CATALOGUE, Unit, format_value
from bot.domain.qbr import quarter_of
from bot.domain.scorecard import Scorecard, rank
from bot.grammar import visible_partners
from bot.messages import KpiRow, Message, Section
from bot.services import feedback as feedback_service
from bot.services.digest import PACK_METRICS, _duration, scorecard_of, target_label, weights_for
from bot.services.evaluation import open_episode_views
from bot.services.home import escalations_section
from bot.services.kpi_commands import _default_metrics, target_statuses
from bot.services.kpi_query import PORTFOLIO_METRICS, KpiLine, query_kpis, scopes_for
from bot.services.qbr import build_pack
from bot.store.alerts import BreachEpisode
from bot.store.escalations import events_of, list_escalations
from bot.store.models import Partner, Site, Target
from bot.store.qbr import Qbr, QbrActionItem
from bot.store.reports import ReverseReport

WINDOW = "last-week"  # the digest's and Home's window: the last complete week, each partner's own
TREND_WEEKS = 13
SPARK_WEEKS = 8  # the chat sparklines' length
EPISODE_WEEKS = 13
LIST_LIMIT = 20


class PageNotFound(Exception):
    """No such page for this viewer (an unknown partner and one they may not see look the same)."""


@dataclass(frozen=True, slots=True)
class KpiCell:
    row: KpiRow
    spark_svg: str


@dataclass(frozen=True, slots=True)
class PartnerCard:
    slug: str
    name: str
    timezone: str
    window_label: str
    kpis: tuple[KpiCell, ...]


@dataclass(frozen=True, slots=True)
class PortfolioPage:
    viewer: str
    client_side: bool
    week: str
    scorecards: tuple[Scorecard, ...]
    partners: tuple[PartnerCard, ...]
    breaches: Section
    escalations: Section
    qbrs: tuple[tuple[str, str, str], ...]  # partner name, slug, local time


@dataclass(frozen=True, slots=True)
class Chart:
    metric: str
    title: str
    svg: str


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    number: int
    what: str
    opened: str
    recovered: str
    duration: str
    windows: int
    worst: str


@dataclass(frozen=True, slots=True)
class EscalationRow:
    ref: str
    title: str
    severity: str
    category: str
    status: str
    level: str
    opened: str
    timeline: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PartnerPage:
    viewer: str
    slug: str
    name: str
    timezone: str
    window_label: str
    kpis: tuple[KpiRow, ...]
    charts: tuple[Chart, ...]
    sla: Message
    breaches: tuple[EpisodeRow, ...]
    escalations: tuple[EscalationRow, ...]
    feedback: Message
    reports: Message
    actions: tuple[str, ...]
    quarter: str
    sites: tuple[str, ...] = field(default_factory=tuple)


async def _visible(session: AsyncSession, actor: Actor) -> list[Partner]:
    require_registered(actor)
    return await visible_partners(session, actor)


async def partner_for(session: AsyncSession, slug: str, actor: Actor) -> Partner:
    """Return the partner page ``slug`` names if ``actor`` may see it, else PageNotFound (no name leaks)."""
    require_registered(actor)
    partner = (await session.execute(select(Partner).where(Partner.slug == slug, Partner.active.is_(True)))
               ).scalars().first()
    if partner is None or not actor.can_see_partner(partner.id):
        raise PageNotFound(slug)
    return partner


async def portfolio_page(session: AsyncSession, *, actor: Actor, now: datetime) -> PortfolioPage:
    """Gather the portfolio: ranked scorecards, each partner's KPIs, open breaches and escalations, next QBRs."""
    partners = await _visible(session, actor)
    weights = await weights_for(session, None if actor.is_client_side else (partners[0].id if partners else None))
    metrics = list(dict.fromkeys([*PORTFOLIO_METRICS, *weights]))
    lines = await query_kpis(session, partners=partners, metrics=metrics, window_spec=WINDOW, now=now,
                             trend=SPARK_WEEKS) if partners else []
    cards, previous, shown = [], {}, []
    for partner in partners:
        mine = [line for line in lines if line.partner.id == partner.id]
        cards.append(scorecard_of(partner, mine, weights))
        previous[partner.name] = scorecard_of(partner, mine, weights, back=1).score
        table = [line for line in mine if line.metric.key in PORTFOLIO_METRICS]
        shown.append(PartnerCard(partner.slug, partner.name, partner.timezone,
                                 mine[0].window.label if mine else "", tuple(_cell(line) for line in table)))
    week = lines[0].window.label if lines else ""
    qbrs = (await session.execute(select(Qbr).where(
        Qbr.partner_id.in_([p.id for p in partners]), Qbr.status == "scheduled", Qbr.scheduled_at >= now,
    ).order_by(Qbr.scheduled_at).limit(LIST_LIMIT))).scalars().all() if partners else []
    by_id = {p.id: p for p in partners}
    return PortfolioPage(
        viewer=actor.display, client_side=actor.is_client_side, week=week,
        scorecards=tuple(rank(cards, previous=previous)), partners=tuple(shown),
        breaches=open_breaches_section(await open_episode_views(session, partner_ids=list(by_id))),
        escalations=await escalations_section(session, actor, now),
        qbrs=tuple((by_id[q.partner_id].name, by_id[q.partner_id].slug,
                    local_time(q.scheduled_at, by_id[q.partner_id].timezone)) for q in qbrs),
    )


def _cell(line: KpiLine) -> KpiCell:
    row = kpi_row(line)
    target = line.target.target_value if line.target else None
    return KpiCell(row, sparkline_svg(line.trend, label=f"{row.label} trend", target=target))


def _unit(metric_key: str) -> str:
    unit = CATALOGUE[metric_key].unit
    return {Unit.PERCENT: "%", Unit.SECONDS: "s"}.get(unit, "")


def _series(line: KpiLine, label: str) -> Series:
    return Series(label, line.trend, line.target.target_value if line.target else None)


async def _partner_lines(session: AsyncSession, partner: Partner, *, now: datetime,
                         metrics: Sequence[str] | None = None) -> tuple[list[KpiLine], list[Target]]:
    targets = list((await session.execute(select(Target).where(Target.partner_id == partner.id))).scalars().all())
    keys = list(metrics) if metrics is not None else _default_metrics(targets)
    lines = await query_kpis(session, partners=[partner], metrics=keys, window_spec=WINDOW, now=now,
                             trend=TREND_WEEKS, every_channel=True)
    return lines, targets


async def charts_for(session: AsyncSession, partner: Partner, *, now: datetime,
                     metrics: Sequence[str] | None = None) -> tuple[list[Chart], list[KpiLine], list[str]]:
    """Draw one 13-week chart per KPI: the target scopes, every channel and every site, each vs its target.

    It costs one grouped query per week for the partner and, with several sites, one per week per site.
    """
    lines, targets = await _partner_lines(session, partner, now=now, metrics=metrics)
    sites = (await session.execute(select(Site).where(Site.partner_id == partner.id).order_by(Site.name))).scalars().all()
    # one site's lines are the partner's own: draw sites only when there are several
    site_lines = {s.id: await query_kpis(session, partners=[partner], metrics=list(dict.fromkeys(
        line.metric.key for line in lines)), window_spec=WINDOW, now=now, trend=TREND_WEEKS, site_id=s.id)
        for s in sites} if lines and len(sites) > 1 else {}
    charts = []
    table = []
    for key in dict.fromkeys(line.metric.key for line in lines):
        scoped = set(scopes_for(targets, key))
        mine = [line for line in lines if line.metric.key == key]
        table += [line for line in mine if line.channel in scoped]
        series = [_series(line, line.channel or "all channels") for line in mine]
        for site in sites if site_lines else ():
            series += [_series(line, f"{site.name} · {line.channel or 'all'}") for line in site_lines[site.id]
                       if line.metric.key == key and any(v is not None for v in line.trend)]
        weeks = [w.short_label for w in mine[0].trend_windows]
        title = f"{partner.name} · {CATALOGUE[key].label} · {TREND_WEEKS} weeks to {mine[0].window.label}"
        charts.append(Chart(key, title, trend_svg(title=title, weeks=weeks, series=series, unit=_unit(key))))
    return charts, table, [s.name for s in sites]


async def chart_svg(session: AsyncSession, *, actor: Actor, slug: str, metric: str, now: datetime) -> str:
    """Return one KPI's 13-week chart as SVG, if the viewer may see the partner; else PageNotFound."""
    partner = await partner_for(session, slug, actor)
    if metric not in CATALOGUE:
        raise PageNotFound(metric)
    charts, _, _ = await charts_for(session, partner, now=now, metrics=[metric])
    return charts[0].svg


async def _episodes(session: AsyncSession, partner: Partner, now: datetime) -> list[EpisodeRow]:
    since = now - timedelta(weeks=EPISODE_WEEKS)
    episodes = (await session.execute(select(BreachEpisode).where(
        BreachEpisode.partner_id == partner.id,
        or_(BreachEpisode.recovered_at.is_(None), BreachEpisode.recovered_at >= since),
    ).order_by(BreachEpisode.opened_at.desc(), BreachEpisode.id.desc()).limit(50))).scalars().all()
    targets = {t.id: t for t in (await session.execute(select(Target).where(
        Target.id.in_({e.target_id for e in episodes})))).scalars().all()} if episodes else {}
    tz = ZoneInfo(partner.timezone)
    rows = []
    for e in episodes:
        target = targets.get(e.target_id)
        end = e.recovered_at or now
        rows.append(EpisodeRow(
            number=e.id or 0, what=target_label(target), opened=when(e.opened_at, tz),
            recovered=when(e.recovered_at, tz) if e.recovered_at else "still open",
            duration=_duration(end - e.opened_at) + ("" if e.recovered_at else " so far"),
            windows=e.windows_breached,
            worst=_fmt_value(target, e.worst_value),
        ))
    return rows


def _fmt_value(target: Target | None, value: float) -> str:
    metric = CATALOGUE.get(target.metric) if target else None
    return format_value(metric, value) if metric else f"{value:g}"


async def _escalations(session: AsyncSession, partner: Partner, actor: Actor) -> list[EscalationRow]:
    from bot.services.escalations import load_setting

    rows = [e for e in await list_escalations(session, partner_ids=[partner.id], limit=LIST_LIMIT * 3)
            if can_view(actor, partner_id=e.partner_id, category=e.category, filed_by=e.filed_by)][:LIST_LIMIT]
    if not rows:
        return []
    setting = await load_setting(session, partner.id)
    names = tuple(level.name for level in setting.policy.levels) if setting.policy else ()
    out = []
    for e in rows:
        events = await events_of(session, e.id or 0)
        out.append(EscalationRow(
            ref=e.ref, title=e.title, severity=e.severity, category=e.category.replace("_", " "), status=e.status,
            level=level_label(e.level, names), opened=when(e.opened_at, setting.tz),
            timeline=tuple(event_line(ev, ref=e.ref, tz=setting.tz, level_names=names) for ev in events),
        ))
    return out


async def partner_page(session: AsyncSession, *, actor: Actor, slug: str, now: datetime) -> PartnerPage:
    """Gather one partner's page: KPIs with 13-week charts, SLA, breaches, escalations, feedback, reports, actions."""
    partner = await partner_for(session, slug, actor)
    charts, table, sites = await charts_for(session, partner, now=now)
    statuses = await target_statuses(session, [partner], now=now)
    sla = sla_status(statuses, open_breaches=None, title_scope=partner.name)
    results = await feedback_service.partner_results(session, partner, None, now)
    reports = (await session.execute(select(ReverseReport).where(ReverseReport.partner_id == partner.id)
                                     .order_by(ReverseReport.id.desc()).limit(LIST_LIMIT))).scalars().all()
    items = (await session.execute(select(QbrActionItem).where(
        QbrActionItem.partner_id == partner.id, QbrActionItem.status == "open").order_by(QbrActionItem.due_on)
    )).scalars().all()
    return PartnerPage(
        viewer=actor.display, slug=partner.slug, name=partner.name, timezone=partner.timezone,
        window_label=table[0].window.label if table else "", kpis=tuple(kpi_row(line) for line in table),
        charts=tuple(charts), sla=sla, breaches=tuple(await _episodes(session, partner, now)),
        escalations=tuple(await _escalations(session, partner, actor)),
        feedback=feedback_compose.results([results]),
        reports=report_list([(r, partner.name, partner.timezone) for r in reports], scope=f"reverse reports for {partner.name}"),
        actions=tuple(f"{i.title} — {i.owner}, due {i.due_on}" for i in items),
        quarter=quarter_of(now, partner.timezone), sites=tuple(sites),
    )


@dataclass(frozen=True, slots=True)
class PackPage:
    viewer: str
    slug: str
    pack: PackView
    charts: tuple[Chart, ...]


async def pack_page(session: AsyncSession, *, actor: Actor, slug: str, quarter: str, now: datetime) -> PackPage:
    """Gather the QBR pack the chat reminder carries, with the pack KPIs' 13-week charts."""
    partner = await partner_for(session, slug, actor)
    pack = await build_pack(session, partner=partner, quarter=quarter, now=now, viewer=actor)
    charts, _, _ = await charts_for(session, partner, now=now, metrics=list(PACK_METRICS))
    return PackPage(viewer=actor.display, slug=partner.slug, pack=pack, charts=tuple(charts))


__all__ = ["PageNotFound", "portfolio_page", "partner_page", "pack_page", "chart_svg", "partner_for"]
