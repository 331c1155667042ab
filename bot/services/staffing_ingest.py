"""Ingest forecasts and schedules: all or nothing per file, re-sending changes nothing, versions kept."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Core
from bot.ingest.rows import RawRecord, RowError
from bot.ingest.staffing import StaffingRow, validate
from bot.ingest.validate import PartnerInfo, interval_end
from bot.services.ingest import partner_infos
from bot.store.staffing import ForecastChange, ForecastInterval, ForecastVersion, ScheduleInterval

log = logging.getLogger(__name__)


@dataclass
class Counts:
    created: int = 0
    changed: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} new, {self.changed} changed, {self.unchanged} unchanged"


@dataclass
class StaffingReport:
    rows: int = 0
    forecast: Counts = field(default_factory=Counts)
    schedule: Counts = field(default_factory=Counts)
    versions: dict[str, int] = field(default_factory=dict)  # partner slug -> new forecast version number
    errors: list[RowError] = field(default_factory=list)
    partner_ids: set[int] = field(default_factory=set)  # partners whose forecast or schedule changed
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"rejected: {len(self.errors)} problem(s); nothing was written"
        verb = "would be" if self.dry_run else "were"
        versions = "".join(f"; {slug} forecast version {n}" for slug, n in sorted(self.versions.items()))
        return (f"{self.rows} rows: forecast intervals {self.forecast}, schedule intervals {self.schedule} "
                f"{verb} stored{versions}")


class _RolledBack(Exception):
    """Leave the transaction without writing."""


def _scope(info: PartnerInfo, row: StaffingRow) -> tuple[int | None, int]:
    site_id = info.sites.get(row.site) if row.site else None
    return site_id, site_id or 0


async def _stored(session: AsyncSession, model: type, partner_id: int, first: datetime, last_end: datetime) -> dict:
    """Return stored rows of ``model`` around the file's intervals, by (scope_site, channel, start)."""
    rows = (await session.execute(select(model).where(
        model.partner_id == partner_id, model.period_start >= first - timedelta(hours=1),
        model.period_start < last_end))).scalars().all()
    return {(r.scope_site, r.channel, r.period_start): r for r in rows}


def _conflicts(rows: list[tuple[StaffingRow, tuple, datetime]], stored: dict, kind: str) -> list[RowError]:
    """Name rows whose interval overlaps a stored interval of another length (it would count twice)."""
    by_scope: dict[tuple, list] = {}
    for r in stored.values():
        by_scope.setdefault((r.scope_site, r.channel), []).append(r)
    errors = []
    for row, key, end in rows:
        for other in by_scope.get(key[:2], ()):
            if other.period_start < end and other.period_end > row.start and \
                    (other.period_start, other.period_end) != (row.start, end):
                minutes = round((other.period_end - other.period_start).total_seconds() / 60)
                errors.append(RowError(row.where, "interval_start",
                                       f"overlaps the stored {minutes}-minute {kind} interval from "
                                       f"{other.period_start.isoformat()}; resend with the stored interval length"))
                break
    return errors


async def ingest_staffing(core: Core, records: Sequence[RawRecord], *, source: str, dry_run: bool = False,
                          errors: Sequence[RowError] = ()) -> StaffingReport:
    """Validate every row and write all of them in one transaction, or none if any is bad."""
    report = StaffingReport(rows=len(records), errors=list(errors), dry_run=dry_run)
    try:
        await _write(core, records, report, source=source, dry_run=dry_run)
    except _RolledBack:
        return report
    except IntegrityError:
        log.info("staffing ingest lost a race with another ingest", exc_info=True)
        report.errors = [RowError("file", None, "another forecast for the same partner arrived at the same moment; "
                                                "nothing was written, send the file again")]
        return report
    if report.partner_ids and not dry_run:
        from bot.services.staffing_warnings import warn_shortfalls

        try:
            await warn_shortfalls(core, partner_ids=sorted(report.partner_ids))
        except Exception:  # stored; the scheduled run catches up
            log.exception("shortfall check after staffing ingest failed")
    return report


async def _write(core: Core, records: Sequence[RawRecord], report: StaffingReport, *, source: str,
                 dry_run: bool) -> None:
    now = core.clock.now()
    async with core.db.transaction() as session:
        infos = await partner_infos(session)
        rows, problems = validate(records, infos)
        report.errors = sorted([*report.errors, *problems], key=lambda e: e.position)
        if report.errors:
            raise _RolledBack
        by_partner: dict[str, list[StaffingRow]] = {}
        for row in rows:
            by_partner.setdefault(row.partner, []).append(row)
        for slug, mine in by_partner.items():
            await _write_partner(session, infos[slug], slug, mine, report, source=source, now=now)
        report.errors.sort(key=lambda e: e.position)
        if report.errors or dry_run:
            raise _RolledBack


async def _write_partner(session: AsyncSession, info: PartnerInfo, slug: str, rows: list[StaffingRow],
                         report: StaffingReport, *, source: str, now: datetime) -> None:
    tz = ZoneInfo(info.timezone)
    spans = [(r, interval_end(r.start, r.minutes, tz)) for r in rows]
    first = min(r.start for r in rows)
    last_end = max(end for _, end in spans)
    keyed = []
    for r, end in spans:
        site_id, scope = _scope(info, r)
        keyed.append((r, (scope, r.channel, r.start), end, site_id))
    forecasts = [(r, k, e) for r, k, e, _ in keyed if r.contacts is not None]
    schedules = [(r, k, e) for r, k, e, _ in keyed if r.agents is not None]
    site_of = {k: s for _, k, _, s in keyed}
    stored_f = await _stored(session, ForecastInterval, info.id, first, last_end) if forecasts else {}
    stored_s = await _stored(session, ScheduleInterval, info.id, first, last_end) if schedules else {}
    report.errors += _conflicts(forecasts, stored_f, "forecast") + _conflicts(schedules, stored_s, "schedule")
    if report.errors:
        return
    new_f, changes = [], []
    for r, key, end in forecasts:
        old = stored_f.get(key)
        if old is None:
            report.forecast.created += 1
            new_f.append((r, key, end))
        elif (old.contacts, old.aht_seconds, old.period_end) != (r.contacts, r.aht, end):
            report.forecast.changed += 1
            changes.append((old, r))
        else:
            report.forecast.unchanged += 1
    if new_f or changes:
        number = ((await session.execute(select(func.max(ForecastVersion.number)).where(
            ForecastVersion.partner_id == info.id))).scalar() or 0) + 1
        starts = [r.start for r, _, _ in new_f] + [r.start for _, r in changes]
        version = ForecastVersion(partner_id=info.id, number=number, source=source, created=len(new_f),
                                  changed=len(changes), first_start=min(starts), last_start=max(starts),
                                  received_at=now)
        session.add(version)
        await session.flush()
        report.versions[slug] = number
        report.partner_ids.add(info.id)
        # one compiled INSERT, many parameter sets (insertmanyvalues): ORM objects per row cost 10x more
        await _insert(session, ForecastInterval, [
            {"partner_id": info.id, "site_id": site_of[key], "scope_site": key[0], "channel": r.channel,
             "period_start": r.start, "period_end": end, "contacts": r.contacts, "aht_seconds": r.aht,
             "version_id": version.id} for r, key, end in new_f])
        for old, r in changes:
            session.add(ForecastChange(version_id=version.id, scope_site=old.scope_site, channel=old.channel,
                                       period_start=old.period_start, old_contacts=old.contacts,
                                       new_contacts=r.contacts, old_aht_seconds=old.aht_seconds,
                                       new_aht_seconds=r.aht))
            old.contacts, old.aht_seconds, old.version_id = r.contacts, r.aht, version.id
            session.add(old)
    new_s = []
    for r, key, end in schedules:
        old = stored_s.get(key)
        if old is None:
            report.schedule.created += 1
            new_s.append({"partner_id": info.id, "site_id": site_of[key], "scope_site": key[0], "channel": r.channel,
                          "period_start": r.start, "period_end": end, "agents": r.agents, "source": source,
                          "ingested_at": now})
            report.partner_ids.add(info.id)
        elif abs(old.agents - r.agents) > 1e-9:
            report.schedule.changed += 1
            old.agents, old.source, old.ingested_at = r.agents, source, now
            session.add(old)
            report.partner_ids.add(info.id)
        else:
            report.schedule.unchanged += 1
    await _insert(session, ScheduleInterval, new_s)
    await session.flush()


async def _insert(session: AsyncSession, model: type, rows: list[dict], *, batch: int = 2000) -> None:
    stmt = insert(model.__table__)
    for i in range(0, len(rows), batch):
        await session.execute(stmt, rows[i:i + batch])
