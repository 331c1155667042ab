"""Aggregate measurement parts over windows: sums in SQL, values from the metric catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Integer, and_, case, func, literal, or_, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.metrics import CATALOGUE, Aggregation
from bot.store.models import Measurement


@dataclass(frozen=True, slots=True)
class Parts:
    """Summed parts of one metric over one window (and scope)."""

    metric: str
    num: float
    den: float
    aux: float | None
    rows: int

    @property
    def value(self) -> float | None:
        return CATALOGUE[self.metric].value(self.num, self.den, self.aux)

    @property
    def volume(self) -> float:
        """The base the value stands on (offered, handled, responses ...)."""
        return self.den


async def sum_parts(
    session: AsyncSession,
    *,
    partner_ids: Sequence[int],
    metrics: Iterable[str],
    start: datetime,
    end: datetime,
    site_id: int | None = None,
    channel: str | None = None,
    group_by: str | None = None,
) -> dict[tuple, Parts]:
    """Sum parts per (partner_id, metric[, site_id|channel]) for periods starting in [start, end).

    ``group_by`` is None, "site_id" or "channel". Metrics aggregated as LAST take the newest
    period's values instead of sums.
    """
    metric_list = list(metrics)
    keys = [Measurement.partner_id, Measurement.metric]
    if group_by == "site_id":
        keys.append(Measurement.site_id)
    elif group_by == "channel":
        keys.append(Measurement.channel)
    elif group_by is not None:
        raise ValueError(f"cannot group by {group_by}")
    where = [
        Measurement.partner_id.in_(list(partner_ids)),
        Measurement.metric.in_(metric_list),
        Measurement.period_start >= start,
        Measurement.period_start < end,
    ]
    if site_id is not None:
        where.append(Measurement.site_id == site_id)
    if channel is not None:
        where.append(Measurement.channel == channel)
    stmt = (
        select(*keys, func.sum(Measurement.num), func.sum(Measurement.den),
               func.sum(Measurement.aux), func.count(), func.max(Measurement.period_start))
        .where(*where)
        .group_by(*keys)
    )
    out: dict[tuple, Parts] = {}
    last_needed: list[tuple] = []
    for row in (await session.execute(stmt)).all():
        key = tuple(row[: len(keys)])
        num, den, aux, count, _latest = row[len(keys):]
        out[key] = Parts(row[1], float(num or 0), float(den or 0), None if aux is None else float(aux), int(count))
        if CATALOGUE[row[1]].aggregation is Aggregation.LAST:
            last_needed.append(key)
    for key in last_needed:
        out[key] = await _last_parts(session, key, keys, where)
    return out


async def _last_parts(session: AsyncSession, key: tuple, keys: list, where: list) -> Parts:
    # A stock (backlog) is read at the end of the window: sum over scopes at the newest period.
    conds = [k == v for k, v in zip(keys, key, strict=True)]
    latest = (await session.execute(select(func.max(Measurement.period_start)).where(*where, *conds))).scalar_one()
    row = (await session.execute(
        select(func.sum(Measurement.num), func.count()).where(*where, *conds, Measurement.period_start == latest)
    )).one()
    return Parts(key[1], float(row[0] or 0), 1.0, None, int(row[1]))


# --- many windows in one statement -------------------------------------------------------------

Span = tuple[datetime, datetime]  # a window's [start, end) in UTC


def _bucket(period_start, spans: list[Span], lo: int, hi: int):  # noqa: ANN001, ANN202
    """Return a balanced CASE tree naming the index of the span holding ``period_start`` (NULL in a gap)."""
    if hi - lo == 1:
        return case((period_start < spans[lo][1], lo), else_=None)
    mid = (lo + hi) // 2
    return case((period_start < spans[mid][0], _bucket(period_start, spans, lo, mid)),
                else_=_bucket(period_start, spans, mid, hi))


@dataclass(slots=True)
class _Detail:
    num: float
    den: float
    aux: float | None
    rows: int
    latest: datetime | None = None  # newest period (LAST metrics)
    latest_num: float = 0.0  # its num
    latest_rows: int = 0  # rows at that period


class WindowSums:
    """Summed parts per partner, window and (metric, site, channel), read with :meth:`parts` in any scope."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, Span], dict[tuple[str, int | None, str], _Detail]] = {}

    def _add(self, partner_id: int, span: Span, key: tuple[str, int | None, str], detail: _Detail) -> None:
        self._cells.setdefault((partner_id, span), {})[key] = detail

    def _latest(self, partner_id: int, span: Span, key: tuple[str, int | None, str], latest: datetime,
                num: float, rows: int) -> None:
        cell = self._cells[(partner_id, span)][key]
        cell.latest, cell.latest_num, cell.latest_rows = latest, num, rows

    def parts(self, partner_id: int, metric: str, span: Span, *, site_id: int | None = None,
              channel: str | None = None) -> Parts | None:
        """Return the parts of ``metric`` in ``span`` for the scope, as :func:`sum_parts` would."""
        cell = self._cells.get((partner_id, span))
        if not cell:
            return None
        found = [d for (m, s, ch), d in cell.items() if m == metric and (site_id is None or s == site_id)
                 and (channel is None or ch == channel)]
        return _fold(metric, found)

    def grouped(self, partner_id: int, metric: str, span: Span, *, by: str, site_id: int | None = None,
                channel: str | None = None) -> dict[object, Parts]:
        """Return the parts per channel or per site (``by``) within the scope."""
        cell = self._cells.get((partner_id, span)) or {}
        groups: dict[object, list[_Detail]] = {}
        for (m, s, ch), d in cell.items():
            if m == metric and (site_id is None or s == site_id) and (channel is None or ch == channel):
                groups.setdefault(ch if by == "channel" else s, []).append(d)
        return {k: p for k, ds in groups.items() if (p := _fold(metric, ds)) is not None}


def _fold(metric: str, found: list[_Detail]) -> Parts | None:
    if not found:
        return None
    if CATALOGUE[metric].aggregation is Aggregation.LAST:
        # A stock is read at the newest period of the scope, summed over the groups that have it.
        latest = max(d.latest for d in found if d.latest is not None)
        at = [d for d in found if d.latest == latest]
        return Parts(metric, float(sum(d.latest_num for d in at)), 1.0, None, sum(d.latest_rows for d in at))
    aux = [d.aux for d in found if d.aux is not None]
    return Parts(metric, float(sum(d.num for d in found)), float(sum(d.den for d in found)),
                 float(sum(aux)) if aux else None, sum(d.rows for d in found))


def _layers(wanted: Iterable[tuple[int, Span]]) -> list[dict[int, list[Span]]]:
    """Split the wanted spans into layers in which each partner's spans never overlap."""
    layers: list[dict[int, list[Span]]] = []
    for partner_id, span in sorted(set(wanted)):
        for layer in layers:
            spans = layer.setdefault(partner_id, [])
            if not spans or spans[-1][1] <= span[0]:
                spans.append(span)
                break
        else:
            layers.append({partner_id: [span]})
    return [{p: s for p, s in layer.items() if s} for layer in layers]


def _daily(windows: Iterable[object]) -> bool:
    """Tell whether every window runs from a local midnight to a local midnight (the daily sums hold it)."""
    from bot.domain.windows import Granularity

    midnight = time(0)
    return all(w.granularity is not Granularity.HOUR and w.start.timetz().replace(tzinfo=None) == midnight
               and w.end.timetz().replace(tzinfo=None) == midnight for w in windows)


async def sum_windows(
    session: AsyncSession,
    *,
    wanted: Iterable[tuple[int, object]],
    metrics: Iterable[str],
    site_id: int | None = None,
    channel: str | None = None,
    by_site: bool = True,
) -> WindowSums:
    """Sum parts for every (partner_id, window) in ``wanted`` in one statement (two with stocks).

    Windows are :class:`bot.domain.windows.Window` in the partner's own timezone; answers are
    keyed by their UTC span. The database buckets each period (or, when every window is whole
    local days, each daily sum from ``measurement_day``) into its window with a balanced CASE
    over the window edges and groups by (partner, window, metric[, site], channel); scopes are
    folded from those groups by :class:`WindowSums`. ``by_site=False`` folds sites in SQL.
    """
    from bot.store.measurement_days import MeasurementDay

    pairs = list(wanted)
    metric_list = sorted({CATALOGUE[m].key for m in metrics})
    out = WindowSums()
    layers = _layers((pid, (w.start_utc, w.end_utc)) for pid, w in pairs)
    if not metric_list or not layers:
        return out
    if _daily(w for _pid, w in pairs):
        t = MeasurementDay.__table__.c
        start, latest, latest_num, count = t.day_start, t.latest_start, t.latest_num, func.sum
    else:
        t = Measurement.__table__.c
        start, latest, latest_num, count = t.period_start, t.period_start, t.num, None
    m = t
    selects, last_selects, spans_of = [], [], []
    for index, layer in enumerate(layers):
        by_spans: dict[tuple[Span, ...], list[int]] = {}
        for partner_id, spans in layer.items():
            by_spans.setdefault(tuple(spans), []).append(partner_id)
        groups = list(by_spans.items())
        spans_of.append([list(spans) for spans, _ in groups])
        if len(groups) == 1:
            bucket = _bucket(start, list(groups[0][0]), 0, len(groups[0][0]))
            group_no = literal(0)
        else:
            bucket = case(*((m.partner_id.in_(ids), _bucket(start, list(spans), 0, len(spans)))
                            for spans, ids in groups))
            group_no = case(*((m.partner_id.in_(ids), g) for g, (_spans, ids) in enumerate(groups)))
        where = [m.metric.in_(metric_list), or_(*(
            and_(m.partner_id.in_(ids), start >= spans[0][0], start < spans[-1][1]) for spans, ids in groups))]
        if site_id is not None:
            where.append(m.site_id == site_id)
        if channel is not None:
            where.append(m.channel == channel)
        site = m.site_id if by_site else literal(None, type_=Integer)
        periods = m.periods if count is not None else literal(1)
        detail = select(literal(index).label("layer"), group_no.label("g"), bucket.label("b"),
                        m.partner_id, m.metric, site.label("site_id"), m.channel, m.num, m.den, m.aux,
                        periods.label("periods"), latest.label("latest"), latest_num.label("latest_num"),
                        ).where(*where).subquery()
        d = detail.c
        keys = [d.layer, d.g, d.b, d.partner_id, d.metric, d.site_id, d.channel]
        rows = func.sum(d.periods) if count is not None else func.count()
        selects.append(select(*keys, func.sum(d.num), func.sum(d.den), func.sum(d.aux), rows)
                       .where(d.b.is_not(None)).group_by(*keys))
        lasts = [k for k in metric_list if CATALOGUE[k].aggregation is Aggregation.LAST]
        if lasts:
            ranked = select(*keys, d.latest, d.latest_num, func.rank().over(
                partition_by=keys, order_by=d.latest.desc()).label("rn")).where(
                d.b.is_not(None), d.metric.in_(lasts)).subquery()
            rk = [ranked.c[k.name] for k in keys]
            last_selects.append(select(*rk, ranked.c.latest, func.sum(ranked.c.latest_num), func.count())
                                .where(ranked.c.rn == 1).group_by(*rk, ranked.c.latest))
    stmt = selects[0] if len(selects) == 1 else union_all(*selects)
    for layer, g, b, partner_id, metric, site, ch, num, den, aux, n in (await session.execute(stmt)).all():
        span = spans_of[layer][g][b]
        out._add(partner_id, span, (metric, site, ch),
                 _Detail(float(num or 0), float(den or 0), None if aux is None else float(aux), int(n)))
    if last_selects:
        stmt = last_selects[0] if len(last_selects) == 1 else union_all(*last_selects)
        for layer, g, b, partner_id, metric, site, ch, newest, num, n in (await session.execute(stmt)).all():
            out._latest(partner_id, spans_of[layer][g][b], (metric, site, ch), newest, float(num or 0), int(n))
    return out
