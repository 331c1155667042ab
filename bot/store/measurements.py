"""Aggregate measurement parts over windows: sums in SQL, values from the metric catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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
