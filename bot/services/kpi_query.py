"""The one KPI query service: these metrics, for these partners, over this window.

Slash commands, App Home, digests and QBR packs all call :func:`query_kpis`. For each
partner and metric it returns one :class:`KpiLine` per *scope the contract measures*:

- the scopes come from the partner's site-less targets for that metric (a service-level
  target on ``voice`` and one on ``chat`` give two lines); a metric with no target gets one
  partner-wide line;
- the target shown is the one whose window matches the queried window's granularity, else
  the nearest (week, day, month, hour); its threshold is judged against the window's value;
- windows resolve in each partner's own timezone, so a portfolio "last-week" is each
  partner's own Monday-to-Monday;
- values come from summed parts, the previous window gives the delta, and ``trend`` windows
  of the same shape (oldest first, ending with the queried one) give the sparkline series.

It costs two statements (targets, then one grouped query bucketing every window of every
partner in SQL), whatever the partner, metric and window count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.metrics import CATALOGUE, Metric
from bot.domain.sla import Threshold, judge
from bot.domain.windows import Granularity, Window, parse_window
from bot.messages import Status
from bot.store.measurements import Parts, sum_windows
from bot.store.models import Partner, Target

DEFAULT_WINDOW = "7d"
DEFAULT_TREND = 8
# The metrics a portfolio answer shows when none are asked for.
PORTFOLIO_METRICS = ("service_level", "aht", "fcr", "csat", "nps")
_GRANULARITY_PREFERENCE = {
    Granularity.HOUR: ("hour", "day", "week", "month"),
    Granularity.DAY: ("day", "week", "hour", "month"),
    Granularity.WEEK: ("week", "day", "month", "hour"),
    Granularity.MONTH: ("month", "week", "day", "hour"),
    Granularity.QUARTER: ("month", "week", "day", "hour"),
    Granularity.DAYS: ("week", "day", "month", "hour"),
    Granularity.RANGE: ("week", "day", "month", "hour"),
}


@dataclass(frozen=True, slots=True)
class PartnerRef:
    id: int
    slug: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class KpiLine:
    """One KPI for one partner and scope over one window, with its context."""

    partner: PartnerRef
    metric: Metric
    channel: str | None  # the scope; None = every channel
    window: Window
    parts: Parts | None
    value: float | None
    target: Target | None
    status: Status
    previous_value: float | None
    trend: tuple[float | None, ...]  # oldest first, the last one is ``value``
    trend_windows: tuple[Window, ...]

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous_value is None:
            return None
        return self.value - self.previous_value

    @property
    def threshold(self) -> Threshold | None:
        return threshold_of(self.target) if self.target else None

    @property
    def improved(self) -> bool | None:
        """Tell whether the change since the previous window went the good way."""
        if self.delta is None or self.delta == 0:
            return None
        return (self.delta > 0) == self.metric.higher_is_better


def threshold_of(target: Target) -> Threshold:
    return Threshold(target.metric, target.comparator, target.target_value, target.warning_value, target.min_volume)


def partner_ref(partner: Partner) -> PartnerRef:
    return PartnerRef(partner.id, partner.slug, partner.name, partner.timezone)


def _effective(target: Target, moment: datetime) -> bool:
    if not target.active:
        return False
    if target.effective_from and moment < target.effective_from:
        return False
    return not (target.effective_to and moment >= target.effective_to)


def pick_target(targets: Sequence[Target], *, metric: str, channel: str | None, window: Window) -> Target | None:
    """Choose the site-less target for ``metric``/``channel`` that best fits ``window``."""
    candidates = [t for t in targets if t.metric == metric and t.site_id is None and t.channel == channel
                  and _effective(t, window.end_utc)]
    for granularity in _GRANULARITY_PREFERENCE[window.granularity]:
        for t in candidates:
            if t.window == granularity:
                return t
    return candidates[0] if candidates else None


def scopes_for(targets: Sequence[Target], metric: str) -> list[str | None]:
    """Return the channel scopes the partner's site-less targets measure ``metric`` on."""
    scopes = sorted({t.channel for t in targets if t.metric == metric and t.site_id is None and t.active},
                    key=lambda c: (c is not None, c or ""))
    return scopes or [None]


def _combine(metric: Metric, parts: list[Parts]) -> Parts | None:
    if not parts:
        return None
    aux = [p.aux for p in parts if p.aux is not None]
    return Parts(metric.key, sum(p.num for p in parts), sum(p.den for p in parts),
                 sum(aux) if aux else None, sum(p.rows for p in parts))


async def query_kpis(
    session: AsyncSession,
    *,
    partners: Sequence[Partner],
    metrics: Sequence[str],
    window_spec: str = DEFAULT_WINDOW,
    now: datetime,
    trend: int = DEFAULT_TREND,
    site_id: int | None = None,
    channel: str | None = None,
    every_channel: bool = False,
) -> list[KpiLine]:
    """Answer KPIs for ``partners`` x ``metrics`` over ``window_spec`` resolved in each partner's tz.

    ``channel`` forces one scope instead of the target scopes; ``site_id`` narrows to a site;
    ``every_channel`` adds a line per channel with data in the series (from the same sums).
    Raises bot.domain.windows.WindowError for an unreadable window spec.
    """
    metric_keys = [CATALOGUE[m].key for m in metrics]
    plans = []
    for partner in partners:
        window = parse_window(window_spec, now=now, tz=ZoneInfo(partner.timezone))
        plans.append((partner, window, window.series(max(trend, 2))))
    ids = [p.id for p in partners]
    every = (await session.execute(select(Target).where(Target.partner_id.in_(ids)))).scalars().all() if ids else []
    targets_of: dict[int, list[Target]] = {}
    for t in every:
        targets_of.setdefault(t.partner_id, []).append(t)
    sums = await sum_windows(session, wanted=[(p.id, w) for p, _w, series in plans for w in series],
                             metrics=metric_keys, site_id=site_id, by_site=False)
    lines: list[KpiLine] = []
    for partner, window, series in plans:
        targets = targets_of.get(partner.id, [])
        ref = partner_ref(partner)
        for key in metric_keys:
            metric = CATALOGUE[key]
            scopes = [channel] if channel else scopes_for(targets, key)
            if every_channel:
                seen = sorted({ch for w in series for ch in sums.grouped(partner.id, key, span(w), by="channel")})
                scopes += [ch for ch in seen if ch not in scopes]
            for scope in scopes:
                # Stocks (Aggregation.LAST) add up too: each channel's newest snapshot, summed.
                found = [_combine(metric, list(sums.grouped(partner.id, key, span(w), by="channel",
                                                             channel=scope).values())) for w in series]
                values = [p.value if p else None for p in found]
                current_parts = found[-1]
                value = values[-1]
                target = pick_target(targets, metric=key, channel=scope, window=window)
                if target is None:
                    status = Status.NO_DATA if value is None else Status.NO_TARGET
                else:
                    status = judge(value, current_parts.volume if current_parts else 0.0, threshold_of(target))
                lines.append(KpiLine(
                    partner=ref, metric=metric, channel=scope, window=window, parts=current_parts,
                    value=value, target=target, status=status, previous_value=values[-2],
                    trend=tuple(values[-trend:]), trend_windows=tuple(series[-trend:]),
                ))
    return lines


def span(window: Window) -> tuple[datetime, datetime]:
    """Return the window's [start, end) in UTC, the key :class:`WindowSums` answers by."""
    return window.start_utc, window.end_utc


async def active_partners(session: AsyncSession, *, ids: Sequence[int] | None = None) -> list[Partner]:
    """Return active partners (optionally only ``ids``), by name."""
    stmt = select(Partner).where(Partner.active.is_(True))
    if ids is not None:
        stmt = stmt.where(Partner.id.in_(list(ids)))
    return list((await session.execute(stmt.order_by(Partner.name))).scalars().all())
