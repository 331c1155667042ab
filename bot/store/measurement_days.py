"""Daily sums of measurements per partner-local day: what answers over whole days read.

Every window but an hour starts and ends at the partner's local midnight, so a period falls
in a window exactly when the local day holding its start does. One row here sums a
(partner, site, channel, metric) over one local day (``day_start`` is that midnight in UTC)
and keeps the newest period and its ``num`` for stocks. Every write to ``measurement``
refreshes the days it touched in the same transaction (:func:`refresh_days`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Index,
    UniqueConstraint,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.metrics import CATALOGUE, Aggregation
from bot.store.models import Measurement, Partner, utc_column
from bot.store.types import UTCDateTime


class MeasurementDay(SQLModel, table=True):
    __tablename__ = "measurement_day"
    __table_args__ = (
        UniqueConstraint("partner_id", "scope_site", "channel", "metric", "day_start", name="uq_measurement_day_key"),
        Index("ix_measurement_day_lookup", "partner_id", "metric", "day_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    scope_site: int = Field(default=0)
    channel: str = Field(max_length=16)
    metric: str = Field(max_length=32)
    day_start: datetime = utc_column()  # the partner's local midnight, in UTC
    num: float = 0.0
    den: float = 0.0
    aux: float | None = None
    periods: int = 0
    latest_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))  # the newest period
    latest_num: float = 0.0  # its num (stocks are read there)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)


def local_days(starts: Iterable[datetime], tz: ZoneInfo) -> set[date]:
    """Return the partner-local days holding these period starts."""
    return {s.astimezone(tz).date() for s in starts}


def _day_case(column, edges: list[datetime], lo: int, hi: int):  # noqa: ANN001, ANN202
    # a balanced CASE naming the index of the day [edges[i], edges[i + 1]) holding ``column``
    if hi - lo == 1:
        return lo
    mid = (lo + hi) // 2
    return case((column < edges[mid], _day_case(column, edges, lo, mid)), else_=_day_case(column, edges, mid, hi))


def _runs(days: list[date]) -> list[list[date]]:
    """Split sorted days into runs of consecutive days."""
    runs: list[list[date]] = []
    for d in days:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


async def refresh_days(session: AsyncSession, starts_by_partner: Mapping[int, Iterable[datetime]]) -> int:
    """Recompute the daily sums of the local days holding these period starts; return rows written."""
    return await session.run_sync(refresh_days_sync, starts_by_partner)


def refresh_days_sync(session: Session, starts_by_partner: Mapping[int, Iterable[datetime]]) -> int:
    """Do :func:`refresh_days` on a synchronous session (flush hooks run there).

    Locks each partner's row first (PostgreSQL), so two writers refreshing the same days take turns
    and the second one sums what the first committed.
    """
    starts = {pid: set(s) for pid, s in starts_by_partner.items()}
    starts = {pid: s for pid, s in starts.items() if s}
    if not starts:
        return 0
    lock = select(Partner.id, Partner.timezone).where(Partner.id.in_(sorted(starts))).order_by(Partner.id)
    if session.bind.dialect.name == "postgresql":
        lock = lock.with_for_update()
    zones = {pid: ZoneInfo(tz) for pid, tz in session.execute(lock).all()}
    written = 0
    for pid, moments in starts.items():
        for run in _runs(sorted(local_days(moments, zones[pid]))):
            written += _refresh_run(session, pid, zones[pid], run)
    return written


_LASTS = sorted(k for k, metric in CATALOGUE.items() if metric.aggregation is Aggregation.LAST)


def _refresh_run(session: Session, pid: int, tz: ZoneInfo, days: list[date]) -> int:
    m = Measurement.__table__.c
    day_table = MeasurementDay.__table__
    edges = [local_midnight(days[0] + timedelta(days=i), tz) for i in range(len(days) + 1)]
    bucket = _day_case(m.period_start, edges, 0, len(days))
    detail = select(m.scope_site, m.channel, m.metric, m.site_id, m.period_start, m.num, m.den, m.aux,
                    (literal(bucket) if isinstance(bucket, int) else bucket).label("b")).where(
        m.partner_id == pid, m.period_start >= edges[0], m.period_start < edges[-1]).subquery()
    dk = [detail.c.scope_site, detail.c.channel, detail.c.metric, detail.c.b]
    sums = select(*dk, func.max(detail.c.site_id), func.sum(detail.c.num), func.sum(detail.c.den),
                  func.sum(detail.c.aux), func.count(), func.max(detail.c.period_start)).group_by(*dk)
    rows = {}
    for scope_site, channel, metric, b, site_id, num, den, aux, count, latest in session.execute(sums).all():
        rows[(scope_site, channel, metric, int(b))] = {
            "partner_id": pid, "site_id": site_id, "scope_site": scope_site, "channel": channel, "metric": metric,
            "day_start": edges[int(b)], "num": float(num or 0), "den": float(den or 0),
            "aux": None if aux is None else float(aux), "periods": int(count), "latest_start": latest,
            "latest_num": 0.0}
    if any(key[2] in _LASTS for key in rows):
        # a stock is read at its newest period: that period's num, per stock day
        ranked = select(*dk, detail.c.num, func.rank().over(partition_by=dk, order_by=detail.c.period_start.desc())
                        .label("rn")).where(detail.c.metric.in_(_LASTS)).subquery()
        found = select(ranked.c.scope_site, ranked.c.channel, ranked.c.metric, ranked.c.b, ranked.c.num).where(
            ranked.c.rn == 1)
        for scope_site, channel, metric, b, num in session.execute(found).all():
            rows[(scope_site, channel, metric, int(b))]["latest_num"] = float(num or 0)
    session.execute(delete(day_table).where(
        day_table.c.partner_id == pid, day_table.c.day_start >= edges[0], day_table.c.day_start < edges[-1]))
    if rows:
        session.execute(insert(day_table), list(rows.values()))
    return len(rows)


async def rebuild_partner(session: AsyncSession, partner_id: int) -> int:
    """Recompute every daily sum of one partner (after its timezone changed)."""
    await session.execute(delete(MeasurementDay).where(MeasurementDay.partner_id == partner_id))
    starts = (await session.execute(select(Measurement.period_start).distinct()
                                    .where(Measurement.partner_id == partner_id))).scalars().all()
    return await refresh_days(session, {partner_id: starts})


def _after_flush(session: Session, _context) -> None:  # noqa: ANN001
    """Refresh the days of measurements written through the ORM (bulk paths call refresh_days)."""
    starts: dict[int, set[datetime]] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Measurement):
            starts.setdefault(obj.partner_id, set()).add(obj.period_start)
            history = inspect(obj).attrs.period_start.history
            for old in history.deleted or ():
                starts[obj.partner_id].add(old)
    if starts:
        refresh_days_sync(session, starts)


event.listen(Session, "after_flush", _after_flush)
