"""Ingest KPI measurements: all or nothing per file, idempotent upserts, then evaluation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Core
from bot.ingest.rows import IngestRow, RawRecord, RowError, metric_parts
from bot.ingest.validate import PartnerInfo, interval_end, validate
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


def _measurements(rows: Sequence[IngestRow], infos: dict[str, PartnerInfo], *, source: str, now: datetime) -> list[dict]:
    out = []
    for r in rows:
        info = infos[r.partner]
        site_id = info.sites.get(r.site) if r.site else None
        end = interval_end(r.start, r.minutes, ZoneInfo(info.timezone))
        for metric, num, den, aux in metric_parts(r.counts):
            out.append({"partner_id": info.id, "site_id": site_id, "scope_site": site_id or 0,
                        "channel": r.channel, "metric": metric, "period_start": r.start, "period_end": end,
                        "num": num, "den": den, "aux": aux, "source": source, "ingested_at": now})
    return out


def _key(m: dict) -> tuple:
    return (m["partner_id"], m["scope_site"], m["channel"], m["metric"], m["period_start"])


async def _existing(session: AsyncSession, items: list[dict]) -> dict[tuple, tuple]:
    """Return the stored parts of every key the file touches.

    One range query per partner over (partner_id, metric, period_start) rides the lookup index;
    row-value IN lists are slow on SQLite.
    """
    wanted = {_key(m) for m in items}
    spans: dict[int, list] = {}
    for partner_id, _site, _channel, metric, start in wanted:
        span = spans.setdefault(partner_id, [start, start, set()])
        span[0], span[1] = min(span[0], start), max(span[1], start)
        span[2].add(metric)
    found: dict[tuple, tuple] = {}
    for partner_id, (first, last, metrics) in spans.items():
        stmt = select(Measurement.partner_id, Measurement.scope_site, Measurement.channel, Measurement.metric,
                      Measurement.period_start, Measurement.num, Measurement.den, Measurement.aux,
                      Measurement.period_end).where(
            Measurement.partner_id == partner_id, Measurement.metric.in_(sorted(metrics)),
            Measurement.period_start >= first, Measurement.period_start <= last)
        for row in (await session.execute(stmt)).all():
            key = tuple(row[:5])
            if key in wanted:
                found[key] = (row[5], row[6], row[7], row[8])
    return found


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
        report.errors = sorted([*report.errors, *problems], key=lambda e: e.position)
        if report.errors:
            raise _RolledBack
        items = _measurements(rows, infos, source=source, now=now)
        report.measurements = len(items)
        existing = await _existing(session, items)
        write = []
        for m in items:
            old = existing.get(_key(m))
            if old is None:
                report.created += 1
                write.append(m)
            elif old != (m["num"], m["den"], m["aux"], m["period_end"]):
                report.changed += 1
                write.append(m)
            else:
                report.unchanged += 1
        report.partner_ids = {m["partner_id"] for m in write}
        report.earliest = min((m["period_start"] for m in write), default=None)
        if write and not dry_run:
            await _upsert(session, write, session.bind.dialect.name)
        if dry_run:
            raise _RolledBack
