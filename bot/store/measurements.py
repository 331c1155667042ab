"""Aggregate measurement parts over windows: sums in SQL, values from the metric catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Integer, and_, bindparam, case, func, literal, or_, select, union_all
from sqlalchemy import insert as sa_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.metrics import CATALOGUE, Aggregation
from bot.store.models import Measurement
from bot.store.types import UTCDateTime


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
    # A stock (backlog) is read at the end of the window: each site's and channel's newest
    # snapshot, then added (a site whose newest snapshot is older still holds its queue).
    conds = [k == v for k, v in zip(keys, key, strict=True)]
    newest = (select(Measurement.scope_site, Measurement.channel, func.max(Measurement.period_start).label("at"))
              .where(*where, *conds).group_by(Measurement.scope_site, Measurement.channel).subquery())
    row = (await session.execute(
        select(func.sum(Measurement.num), func.count()).where(*where, *conds).join_from(Measurement, newest, and_(
            Measurement.scope_site == newest.c.scope_site, Measurement.channel == newest.c.channel,
            Measurement.period_start == newest.c.at))
    )).one()
    return Parts(key[1], float(row[0] or 0), float(row[1]), None, int(row[1]))


# --- many windows in one statement -------------------------------------------------------------

Span = tuple[datetime, datetime]  # a window's [start, end) in UTC


def _bucket(start, prefix: str, lo: int, hi: int):  # noqa: ANN001, ANN202
    """Return a balanced CASE tree naming the index of the window holding ``start`` (NULL in a gap).

    Window edges are bound parameters (``{prefix}s{i}``, ``{prefix}e{i}``), so one statement
    serves every answer of the same shape and SQLAlchemy compiles it once.
    """
    if hi - lo == 1:
        return case((start < bindparam(f"{prefix}e{lo}", type_=UTCDateTime()), lo), else_=None)
    mid = (lo + hi) // 2
    return case((start < bindparam(f"{prefix}s{mid}", type_=UTCDateTime()), _bucket(start, prefix, lo, mid)),
                else_=_bucket(start, prefix, mid, hi))


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
        # A stock is read at each site's and channel's newest snapshot, then added; ``den``
        # counts the snapshots added (the value is ``num`` alone).
        at = [d for d in found if d.latest is not None]
        snapshots = sum(d.latest_rows for d in at)
        return Parts(metric, float(sum(d.latest_num for d in at)), float(snapshots), None, snapshots)
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
    pairs = list(wanted)
    metric_list = sorted({CATALOGUE[m].key for m in metrics})
    out = WindowSums()
    layers = _layers((pid, (w.start_utc, w.end_utc)) for pid, w in pairs)
    if not metric_list or not layers:
        return out
    params: dict[str, object] = {"metrics": metric_list}
    spans_of: list[list[list[Span]]] = []
    shape = []
    for index, layer in enumerate(layers):
        by_spans: dict[tuple[Span, ...], list[int]] = {}
        for partner_id, spans in layer.items():
            by_spans.setdefault(tuple(spans), []).append(partner_id)
        spans_of.append([list(spans) for spans in by_spans])
        shape.append(tuple(len(spans) for spans in by_spans))
        for g, (spans, ids) in enumerate(by_spans.items()):
            params[f"p{index}_{g}"] = ids
            for i, (start, end) in enumerate(spans):
                params[f"w{index}_{g}_s{i}"], params[f"w{index}_{g}_e{i}"] = start, end
    lasts = [k for k in metric_list if CATALOGUE[k].aggregation is Aggregation.LAST]
    if lasts:
        params["lasts"] = lasts
    if site_id is not None:
        params["site"] = site_id
    if channel is not None:
        params["channel"] = channel
    main, last = _statements((_daily(w for _pid, w in pairs), by_site, site_id is not None, channel is not None,
                              bool(lasts), tuple(shape)))
    for layer, g, b, partner_id, metric, site, ch, num, den, aux, n in (await session.execute(main, params)).all():
        out._add(partner_id, spans_of[layer][g][b], (metric, site, ch),
                 _Detail(float(num or 0), float(den or 0), None if aux is None else float(aux), int(n)))
    if last is not None:
        for layer, g, b, partner_id, metric, site, ch, newest, num, n in (await session.execute(last, params)).all():
            out._latest(partner_id, spans_of[layer][g][b], (metric, site, ch), newest, float(num or 0), int(n))
    return out


_STATEMENTS: dict[tuple, tuple] = {}


def _statements(shape: tuple) -> tuple:
    """Build (once per shape) the sums statement and the stocks statement for :func:`sum_windows`."""
    found = _STATEMENTS.get(shape)
    if found is not None:
        return found
    from bot.store.measurement_days import MeasurementDay

    daily, by_site, with_site, with_channel, with_lasts, layers = shape
    if daily:
        m = MeasurementDay.__table__.c
        start, latest, latest_num, periods = m.day_start, m.latest_start, m.latest_num, m.periods
    else:
        m = Measurement.__table__.c
        start, latest, latest_num, periods = m.period_start, m.period_start, m.num, literal(1)
    selects, last_selects = [], []
    for index, groups in enumerate(layers):
        ids = [bindparam(f"p{index}_{g}", expanding=True) for g in range(len(groups))]
        trees = [_bucket(start, f"w{index}_{g}_", 0, n) for g, n in enumerate(groups)]
        if len(groups) == 1:
            bucket, group_no = trees[0], literal(0)
        else:
            bucket = case(*((m.partner_id.in_(ids[g]), trees[g]) for g in range(len(groups))))
            group_no = case(*((m.partner_id.in_(ids[g]), g) for g in range(len(groups))))
        where = [m.metric.in_(bindparam("metrics", expanding=True)), or_(*(
            and_(m.partner_id.in_(ids[g]), start >= bindparam(f"w{index}_{g}_s0", type_=UTCDateTime()),
                 start < bindparam(f"w{index}_{g}_e{n - 1}", type_=UTCDateTime()))
            for g, n in enumerate(groups)))]
        if with_site:
            where.append(m.site_id == bindparam("site"))
        if with_channel:
            where.append(m.channel == bindparam("channel"))
        site = m.site_id if by_site else literal(None, type_=Integer)
        detail = select(literal(index).label("layer"), group_no.label("g"), bucket.label("b"),
                        m.partner_id, m.metric, site.label("site_id"), m.site_id.label("own_site"), m.channel,
                        m.num, m.den, m.aux,
                        periods.label("periods"), latest.label("latest"), latest_num.label("latest_num"),
                        ).where(*where).subquery()
        d = detail.c
        keys = [d.layer, d.g, d.b, d.partner_id, d.metric, d.site_id, d.channel]
        rows = func.sum(d.periods) if daily else func.count()
        selects.append(select(*keys, func.sum(d.num), func.sum(d.den), func.sum(d.aux), rows)
                       .where(d.b.is_not(None)).group_by(*keys))
        if with_lasts:
            # A stock is read at each site's and channel's own newest period, then added: a site
            # whose last snapshot is older still counts (it has not emptied its queue).
            ranked = select(*keys, d.latest, d.latest_num, func.rank().over(
                partition_by=[*keys, d.own_site], order_by=d.latest.desc()).label("rn")).where(
                d.b.is_not(None), d.metric.in_(bindparam("lasts", expanding=True))).subquery()
            rk = [ranked.c[k.name] for k in keys]
            last_selects.append(select(*rk, func.max(ranked.c.latest), func.sum(ranked.c.latest_num), func.count())
                                .where(ranked.c.rn == 1).group_by(*rk))
    main = selects[0] if len(selects) == 1 else union_all(*selects)
    last = None
    if last_selects:
        last = last_selects[0] if len(last_selects) == 1 else union_all(*last_selects)
    if len(_STATEMENTS) > 512:
        _STATEMENTS.clear()
    _STATEMENTS[shape] = (main, last)
    return main, last


async def insert_raw(s: AsyncSession, table, batch: list[dict[str, object]]) -> None:  # noqa: ANN001
    """Insert new rows through the driver: executemany on SQLite, COPY on PostgreSQL.

    Values are bound once by the column types' own processors, skipping SQLAlchemy's per-row
    parameter handling; ``batch`` items are converted in place. Only for rows known to be new.
    """
    if not batch:
        return
    conn = await s.connection()
    # The driver's executemany with pre-bound values skips SQLAlchemy's per-row
    # parameter processing, which dominated the insert time (about 2x faster).
    dialect = conn.dialect
    columns = list(batch[0])
    compiled = sa_insert(table).compile(dialect=dialect, column_keys=columns)
    # dialect_impl: the dialect-specific processor (SQLite stores microseconds always).
    processors = {c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns}
    procs = [(c, f) for c, f in processors.items() if f is not None]
    for item in batch:
        for c, f in procs:
            item[c] = f(item[c])
    if dialect.name == "postgresql":
        # COPY is an order of magnitude faster than executemany on PostgreSQL.
        raw = (await conn.get_raw_connection()).driver_connection
        names = ", ".join(columns)
        async with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            # One text buffer per batch in COPY text format; strings are escaped (a source is user text).
            await copy.write("".join("\t".join(_copy_text(item[c]) for c in columns) + "\n" for item in batch))
        return
    if compiled.positional:
        order = compiled.positiontup or []
        params: list = [tuple(item[k] for k in order) for item in batch]
    else:
        params = batch
    await conn.exec_driver_sql(str(compiled), params)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)
