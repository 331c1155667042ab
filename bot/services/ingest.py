"""Ingest KPI measurements: all or nothing per file, idempotent upserts, then evaluation."""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Core
from bot.ingest.rows import IngestRow, RawRecord, RowError, metric_parts
from bot.ingest.validate import PartnerInfo, interval_end, validate
from bot.store.measurement_days import refresh_days
from bot.store.measurements import insert_raw
from bot.store.models import Measurement, Partner, Site

log = logging.getLogger(__name__)
BATCH = 2000


@dataclass
class IngestReport:
    rows: int = 0
    measurements: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    partner_ids: set[int] = field(default_factory=set)
    earliest: datetime | None = None  # the first period start that was written
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"rejected: {len(self.errors)} problem(s); nothing was written"
        verb = "would be" if self.dry_run else "were"
        return (f"{self.rows} rows, {self.measurements} measurements: {self.created} new, {self.changed} changed, "
                f"{self.unchanged} unchanged {verb} stored")


AfterIngest = Callable[[Core, IngestReport], Awaitable[None]]


async def _evaluate_after_ingest(core: Core, report: IngestReport) -> None:
    from bot.services.evaluation import evaluate

    # Late or corrected rows may fall in windows already judged: re-judge from the earliest one.
    await evaluate(core, partner_ids=sorted(report.partner_ids), since=report.earliest)


# Hooks run after a committed ingest that changed something (the SLA evaluation first).
AFTER_INGEST: list[AfterIngest] = [_evaluate_after_ingest]


async def partner_infos(session: AsyncSession) -> dict[str, PartnerInfo]:
    partners = (await session.execute(select(Partner).where(Partner.active.is_(True)))).scalars().all()
    sites = (await session.execute(select(Site.partner_id, Site.key, Site.id))).all()
    by_partner: dict[int, dict[str, int]] = {}
    for pid, key, sid in sites:
        by_partner.setdefault(pid, {})[key] = sid
    return {p.slug: PartnerInfo(p.id, p.timezone, by_partner.get(p.id, {})) for p in partners}


def _measurements(rows: Sequence[IngestRow], infos: dict[str, PartnerInfo], *, source: str,
                  now: datetime) -> tuple[list[dict], list[str]]:
    """Return the measurement rows to upsert and, index for index, the file row each came from."""
    out, wheres = [], []
    for r in rows:
        info = infos[r.partner]
        site_id = info.sites.get(r.site) if r.site else None
        end = interval_end(r.start, r.minutes, ZoneInfo(info.timezone))
        for metric, num, den, aux in metric_parts(r.counts):
            out.append({"partner_id": info.id, "site_id": site_id, "scope_site": site_id or 0,
                        "channel": r.channel, "metric": metric, "period_start": r.start, "period_end": end,
                        "num": num, "den": den, "aux": aux, "source": source, "ingested_at": now})
            wheres.append(r.where)
    return out, wheres


def _starts(items: list[dict]) -> dict[int, set[datetime]]:
    """Return each partner's written period starts."""
    starts: dict[int, set[datetime]] = {}
    for m in items:
        starts.setdefault(m["partner_id"], set()).add(m["period_start"])
    return starts


def _key(m: dict) -> tuple:
    return (m["partner_id"], m["scope_site"], m["channel"], m["metric"], m["period_start"])


# A stored daily period starts at most 25 hours (a DST day) before a period it overlaps.
_LOOKBACK = timedelta(hours=26)


@dataclass
class _Stored:
    """What the database already holds around the file's periods."""

    parts: dict[tuple, tuple] = field(default_factory=dict)  # exact key -> (num, den, aux, period_end)
    # (partner_id, scope_site, channel, metric) -> sorted [(start, end)] as POSIX seconds: comparing
    # floats is many times faster than comparing aware datetimes of different offsets.
    periods: dict[tuple, list[tuple[float, float]]] = field(default_factory=dict)

    def overlapping(self, m: dict) -> list[tuple[float, float]]:
        """Return stored periods of the same scope and metric that overlap ``m`` but are not its period."""
        spans = self.periods.get(_key(m)[:4])
        if not spans:
            return []
        start, end = m["period_start"].timestamp(), m["period_end"].timestamp()
        hits = []
        i = bisect_left(spans, (end,)) - 1
        while i >= 0 and spans[i][1] > start:
            if spans[i] != (start, end):
                hits.append(spans[i])
            i -= 1
        return hits


async def _existing(session: AsyncSession, items: list[dict]) -> _Stored:
    """Return the stored parts of every key the file touches, and the stored periods around them.

    One range query per partner over (partner_id, metric, period_start) rides the lookup index;
    row-value IN lists are slow on SQLite.
    """
    wanted = {_key(m) for m in items}
    spans: dict[int, list] = {}
    for m in items:
        span = spans.setdefault(m["partner_id"], [m["period_start"], m["period_end"], set()])
        span[0], span[1] = min(span[0], m["period_start"]), max(span[1], m["period_end"])
        span[2].add(m["metric"])
    stored = _Stored()
    for partner_id, (first, last_end, metrics) in spans.items():
        stmt = select(Measurement.partner_id, Measurement.scope_site, Measurement.channel, Measurement.metric,
                      Measurement.period_start, Measurement.num, Measurement.den, Measurement.aux,
                      Measurement.period_end).where(
            Measurement.partner_id == partner_id, Measurement.metric.in_(sorted(metrics)),
            Measurement.period_start >= first - _LOOKBACK, Measurement.period_start < last_end)
        for row in (await session.execute(stmt)).all():
            key = tuple(row[:5])
            if key in wanted:
                stored.parts[key] = (row[5], row[6], row[7], row[8])
            stored.periods.setdefault(key[:4], []).append((row[4].timestamp(), row[8].timestamp()))
    for periods in stored.periods.values():
        periods.sort()
    return stored


def _conflicts(items: list[dict], wheres: list[str], stored: _Stored, infos: dict[str, PartnerInfo]) -> list[RowError]:
    """Name each row whose period overlaps a differently cut stored period (sums would count twice)."""
    tz_of = {info.id: ZoneInfo(info.timezone) for info in infos.values()}
    found: dict[str, tuple[tuple[float, float], int, set[str]]] = {}
    for m, where in zip(items, wheres, strict=True):
        hits = stored.overlapping(m)
        if hits:
            found.setdefault(where, (hits[-1], m["partner_id"], set()))[2].add(m["metric"])
    errors = []
    for where, ((start, end), partner_id, metrics) in found.items():
        local = datetime.fromtimestamp(start, tz_of[partner_id])
        minutes = round((end - start) / 60)
        errors.append(RowError(where, "interval_start", (
            f"overlaps the stored {minutes}-minute period from {local.strftime('%Y-%m-%d %H:%M')} "
            f"({', '.join(sorted(metrics)[:3])}); resend with the interval length already stored")))
    return errors


async def _upsert(session: AsyncSession, items: list[dict], dialect: str) -> None:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Measurement.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["partner_id", "scope_site", "channel", "metric", "period_start"],
        set_={c: stmt.excluded[c] for c in ("site_id", "period_end", "num", "den", "aux", "source", "ingested_at")},
    )
    # One statement compiled once, executed with many parameter sets: SQLAlchemy batches them
    # into multi-row VALUES ("insertmanyvalues"); a .values(list) statement is recompiled per batch.
    for i in range(0, len(items), BATCH):
        await session.execute(stmt, items[i:i + BATCH])


async def ingest_rows(core: Core, rows: Sequence[RawRecord], *, source: str, dry_run: bool = False,
                      errors: Sequence[RowError] = ()) -> IngestReport:
    """Validate every row; write all of them in one transaction, or none if any is bad.

    ``errors`` carries the problems the parser already found, so one answer lists them all.
    """
    records = rows
    report = IngestReport(rows=len(records), errors=list(errors), dry_run=dry_run)
    try:
        await _write(core, records, report, source=source, dry_run=dry_run)
    except _RolledBack:
        return report
    if report.partner_ids and not dry_run:
        for hook in AFTER_INGEST:
            try:
                await hook(core, report)
            except Exception:  # the data is stored; the scheduled evaluation catches up
                log.exception("after-ingest hook %s failed", getattr(hook, "__name__", hook))
    return report


class _RolledBack(Exception):
    """Leave the transaction without writing (a rejected file or a dry run)."""


async def _write(core: Core, records: Sequence[RawRecord], report: IngestReport, *, source: str,
                 dry_run: bool) -> None:
    now = core.clock.now()
    async with core.db.transaction() as session:
        infos = await partner_infos(session)
        rows, problems = validate(records, infos)
        if session.bind.dialect.name == "postgresql" and not dry_run:
            # one writer per partner at a time: what is read back below stays true until commit
            ids = sorted({infos[r.partner].id for r in rows if r.partner in infos})
            await session.execute(select(Partner.id).where(Partner.id.in_(ids)).order_by(Partner.id).with_for_update())
        report.errors = sorted([*report.errors, *problems], key=lambda e: e.position)
        if report.errors:
            raise _RolledBack
        items, wheres = _measurements(rows, infos, source=source, now=now)
        report.measurements = len(items)
        existing = await _existing(session, items)
        report.errors = sorted(_conflicts(items, wheres, existing, infos), key=lambda e: e.position)
        if report.errors:
            raise _RolledBack
        created, changed = [], []
        for m in items:
            old = existing.parts.get(_key(m))
            if old is None:
                created.append(m)
            elif old != (m["num"], m["den"], m["aux"], m["period_end"]):
                changed.append(m)
            else:
                report.unchanged += 1
        report.created, report.changed = len(created), len(changed)
        write = created + changed
        report.partner_ids = {m["partner_id"] for m in write}
        report.earliest = min((m["period_start"] for m in write), default=None)
        if write and not dry_run:
            starts = _starts(write)
            # New rows go through the driver (executemany / COPY): nothing holds their keys, and the
            # partners' rows are locked, so no other writer adds them meanwhile. Changes are upserts.
            await insert_raw(session, Measurement.__table__, created)
            await _upsert(session, changed, session.bind.dialect.name)
            await refresh_days(session, starts)
        if dry_run:
            raise _RolledBack
