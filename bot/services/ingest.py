"""Ingest KPI measurements: all or nothing per file, idempotent upserts, then evaluation.

A file streams through in chunks inside one transaction: each chunk is validated, then written
(new rows through the driver, the rest compared with the stored ones in SQL); a bad row anywhere,
even the last, rolls the whole file back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.schema import CreateTable
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import Core
from bot.ingest.rows import ErrorLog, IngestRow, RawRecord, RowError, metric_parts
from bot.ingest.validate import PartnerInfo, Validator, interval_end
from bot.store.measurement_days import local_days, refresh_days
from bot.store.measurements import insert_raw
from bot.store.models import Measurement, Partner, Site
from bot.store.types import UTCDateTime

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    rows: int = 0
    measurements: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0  # problems found beyond the listed ones (a file with very many bad rows)
    partner_ids: set[int] = field(default_factory=set)
    earliest: datetime | None = None  # the first period start that was written
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return f"rejected: {len(self.errors) + self.more_errors} problem(s); nothing was written"
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


CHUNK_ROWS = 10_000
# A stored daily period starts at most 25 hours (a DST day) before a period it overlaps.
_LOOKBACK = timedelta(hours=26)

# One chunk of the file's measurements, compared with the stored ones in SQL (a temporary table,
# private to the connection and emptied after every chunk).
_STAGE = Table(
    "liaison_ingest_stage", MetaData(),
    Column("pos", Integer), Column("morder", Integer), Column("partner_id", Integer), Column("site_id", Integer),
    Column("scope_site", Integer), Column("channel", String(16)), Column("metric", String(32)),
    Column("period_start", UTCDateTime()), Column("period_end", UTCDateTime()), Column("lookback", UTCDateTime()),
    Column("num", Float), Column("den", Float), Column("aux", Float),
    prefixes=["TEMPORARY"],
)
_STAGED = ("partner_id", "site_id", "scope_site", "channel", "metric", "period_start", "period_end", "num", "den",
           "aux")
_COLUMNS = ("partner_id", "site_id", "scope_site", "channel", "metric", "period_start", "period_end", "num", "den",
            "aux", "source", "ingested_at")


def _statements() -> dict[str, object]:
    m, s = Measurement.__table__.c, _STAGE.c
    e = Measurement.__table__.alias("stored").c
    same_key = and_(m.partner_id == s.partner_id, m.scope_site == s.scope_site, m.channel == s.channel,
                    m.metric == s.metric, m.period_start == s.period_start)
    exact = and_(e.partner_id == s.partner_id, e.scope_site == s.scope_site, e.channel == s.channel,
                 e.metric == s.metric, e.period_start == s.period_start, e.period_end == s.period_end)
    differs = or_(m.num != s.num, m.den != s.den, m.aux.is_distinct_from(s.aux), m.period_end != s.period_end)
    at = {name: bindparam(name, type_=UTCDateTime()) for name in ("lo", "hi", "first")}
    # what every row of one load carries alike, bound once per statement rather than staged per row
    ingest = {"source": bindparam("source", type_=String(64)), "ingested_at": bindparam("now", type_=UTCDateTime())}
    return {
        # does any stored period of this scope and metric overlap [first, hi)? (rides the unique key's index)
        "probe": select(literal(1)).where(
            m.partner_id == bindparam("p"), m.scope_site == bindparam("s"), m.channel == bindparam("c"),
            m.metric == bindparam("m"), m.period_start >= at["lo"], m.period_start < at["hi"],
            m.period_end > at["first"]).limit(1),
        # stored periods that overlap a staged one but are cut differently (sums would count twice); a
        # staged period stored exactly as it is overlaps nothing else (stored periods never overlap), so
        # only the others are looked for around, and a re-send skips the range scan
        "conflicts": select(s.pos, s.morder, s.metric, s.partner_id, m.period_start, m.period_end).select_from(
            _STAGE.join(Measurement.__table__, and_(
                m.partner_id == s.partner_id, m.scope_site == s.scope_site, m.channel == s.channel,
                m.metric == s.metric, m.period_start >= s.lookback, m.period_start < s.period_end,
                m.period_end > s.period_start, or_(m.period_start != s.period_start, m.period_end != s.period_end))))
        .where(~exists().where(exact)),
        # per (partner, period start): staged rows that change a stored one, and all that change or add
        "status": select(s.partner_id, s.period_start, func.count(m.id), func.count()).select_from(
            _STAGE.outerjoin(Measurement.__table__, same_key)).where(or_(m.id.is_(None), differs))
        .group_by(s.partner_id, s.period_start),
        "update": update(Measurement.__table__).where(same_key, differs).values(
            {**{c: s[c] for c in ("site_id", "period_end", "num", "den", "aux")}, **ingest}),
        "insert": insert(Measurement.__table__).from_select(
            list(_COLUMNS), select(*(s[c] if c in s else ingest[c] for c in _COLUMNS)).where(
                ~exists().where(same_key))),
        "clear": delete(_STAGE),
    }


_SQL = _statements()


class _ChunkWriter:
    """Write a file's measurements chunk by chunk inside the caller's one transaction.

    Rows of a (partner, site, channel, metric) with nothing stored around their periods go straight
    in through the driver (a first ingest runs at the raw insert's pace); the others are staged and
    compared with the stored rows in SQL, so a re-send that changes nothing writes nothing and reads
    back only counts.
    """

    def __init__(self, session: AsyncSession, infos: dict[str, PartnerInfo], report: IngestReport, *,
                 source: str, now: datetime) -> None:
        self.session, self.infos, self.report = session, infos, report
        self.source, self.now = source, now
        self.zones = {info.id: ZoneInfo(info.timezone) for info in infos.values()}
        self.postgres = session.bind.dialect.name == "postgresql"
        self.locked: set[int] = set()
        self.staged = False
        self.conflicts = ErrorLog()
        self.days: dict[int, set] = {}  # partner id -> local dates written

    async def add(self, rows: Sequence[IngestRow]) -> None:
        """Check this chunk against the stored rows and, while nothing conflicts, write it."""
        items, positions = self._items(rows)
        self.report.measurements += len(items)
        if not items:
            return
        await self._lock({m["partner_id"] for m in items})
        fresh, staged = await self._split(items, positions)
        if fresh and not self.conflicts:
            self._written(fresh)  # first: the insert converts the items in place
            await insert_raw(self.session, Measurement.__table__, fresh)
            self.report.created += len(fresh)
        if staged:
            await self._compare(staged, rows)

    def _items(self, rows: Sequence[IngestRow]) -> tuple[list[dict], list[tuple[int, int]]]:
        """Return the measurement rows of these file rows and, index for index, (row index, metric order)."""
        items, positions = [], []
        source, now = self.source, self.now
        for index, r in enumerate(rows):
            info = self.infos[r.partner]
            site_id = info.sites.get(r.site) if r.site else None
            end = interval_end(r.start, r.minutes, self.zones[info.id])
            for order, (metric, num, den, aux) in enumerate(metric_parts(r.counts)):
                items.append({"partner_id": info.id, "site_id": site_id, "scope_site": site_id or 0,
                              "channel": r.channel, "metric": metric, "period_start": r.start, "period_end": end,
                              "num": num, "den": den, "aux": aux, "source": source, "ingested_at": now})
                positions.append((index, order))
        return items, positions

    async def _lock(self, partner_ids: set[int]) -> None:
        # PostgreSQL: one writer per partner at a time, so what is compared below stays true until commit
        new = sorted(partner_ids - self.locked)
        if new and self.postgres:
            await self.session.execute(select(Partner.id).where(Partner.id.in_(new)).order_by(Partner.id)
                                       .with_for_update())
        self.locked.update(new)

    async def _split(self, items: list[dict], positions: list[tuple[int, int]]) -> tuple[list[dict], list[dict]]:
        """Split items into those with nothing stored around them and those to compare in SQL."""
        hulls: dict[tuple, list] = {}
        for m in items:
            key = (m["partner_id"], m["scope_site"], m["channel"], m["metric"])
            hull = hulls.get(key)
            if hull is None:
                hulls[key] = [m["period_start"], m["period_end"]]
            else:
                if m["period_start"] < hull[0]:
                    hull[0] = m["period_start"]
                if m["period_end"] > hull[1]:
                    hull[1] = m["period_end"]
        stored = set()
        for (pid, scope_site, channel, metric), (first, last_end) in hulls.items():
            found = await self.session.execute(_SQL["probe"], {
                "p": pid, "s": scope_site, "c": channel, "m": metric, "lo": first - _LOOKBACK, "hi": last_end,
                "first": first})
            if found.first() is not None:
                stored.add((pid, scope_site, channel, metric))
        if not stored:
            return items, []
        fresh, staged = [], []
        for m, (index, order) in zip(items, positions, strict=True):
            if (m["partner_id"], m["scope_site"], m["channel"], m["metric"]) in stored:
                staged.append({"pos": index, "morder": order, "lookback": m["period_start"] - _LOOKBACK,
                               **{c: m[c] for c in _STAGED}})
            else:
                fresh.append(m)
        return fresh, staged

    async def _compare(self, staged: list[dict], rows: Sequence[IngestRow]) -> None:
        session = self.session
        if not self.staged:
            await session.execute(CreateTable(_STAGE, if_not_exists=True))
            await session.execute(_SQL["clear"])
            self.staged = True
        await insert_raw(session, _STAGE, staged)
        try:
            self._conflicts((await session.execute(_SQL["conflicts"])).all(), rows)
            if self.conflicts:
                return
            status = (await session.execute(_SQL["status"])).all()
            changed = sum(n for _pid, _start, n, _all in status)
            created = sum(n for _pid, _start, _n, n in status) - changed
            same = {"source": self.source, "now": self.now}
            if changed:
                await session.execute(_SQL["update"], same)
            if created:
                await session.execute(_SQL["insert"], same)
            self.report.created += created
            self.report.changed += changed
            self.report.unchanged += len(staged) - created - changed
            self._written([{"partner_id": pid, "period_start": start} for pid, start, _n, _all in status])
        finally:
            await session.execute(_SQL["clear"])

    def _conflicts(self, hits: Sequence[tuple], rows: Sequence[IngestRow]) -> None:
        """Name each row whose period overlaps a differently cut stored period, once, at its first metric's."""
        found: dict[int, list] = {}
        for pos, order, metric, pid, start, end in hits:
            entry = found.get(pos)
            if entry is None:
                found[pos] = [order, start, end, pid, {metric}]
                continue
            entry[4].add(metric)
            if (order, start) < (entry[0], entry[1]):
                entry[:3] = [order, start, end]
        for pos in sorted(found):
            _order, start, end, pid, metrics = found[pos]
            local = start.astimezone(self.zones[pid])
            minutes = round((end - start).total_seconds() / 60)
            self.conflicts.add(RowError(rows[pos].where, "interval_start", (
                f"overlaps the stored {minutes}-minute period from {local.strftime('%Y-%m-%d %H:%M')} "
                f"({', '.join(sorted(metrics)[:3])}); resend with the interval length already stored")))

    def _written(self, items: Iterable[dict]) -> None:
        report = self.report
        starts: dict[int, set[datetime]] = {}
        for m in items:
            starts.setdefault(m["partner_id"], set()).add(m["period_start"])
        for pid, moments in starts.items():
            report.partner_ids.add(pid)
            first = min(moments)
            if report.earliest is None or first < report.earliest:
                report.earliest = first
            self.days.setdefault(pid, set()).update(local_days(moments, self.zones[pid]))

    async def finish(self) -> None:
        """Refresh the daily sums of every local day written (once, whatever the number of chunks)."""
        await refresh_days(self.session, {
            pid: [datetime.combine(day, time(12), self.zones[pid]) for day in days]
            for pid, days in self.days.items()})


def _chunks(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def ingest_rows(core: Core, rows: Iterable[RawRecord], *, source: str, dry_run: bool = False,
                      errors: Iterable[RowError] = (), chunk_rows: int = CHUNK_ROWS) -> IngestReport:
    """Validate every row; write all of them in one transaction, or none if any is bad.

    ``rows`` may be a stream (a file read line by line): it is checked and written ``chunk_rows``
    at a time, so memory stays bounded whatever the file's size. ``errors`` carries the problems
    the parser found; it is read after ``rows`` is exhausted, so a streaming parser's count too.
    """
    report = IngestReport(dry_run=dry_run)
    try:
        await _write(core, rows, report, source=source, dry_run=dry_run, parse_errors=errors,
                     chunk_rows=max(1, chunk_rows))
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


async def _write(core: Core, records: Iterable[RawRecord], report: IngestReport, *, source: str,
                 dry_run: bool, parse_errors: Iterable[RowError], chunk_rows: int) -> None:
    problems = ErrorLog()
    async with core.db.transaction() as session:
        infos = await partner_infos(session)
        validator = Validator(infos, problems)
        writer = _ChunkWriter(session, infos, report, source=source, now=core.clock.now())
        for chunk in _chunks(records, chunk_rows):
            report.rows += len(chunk)
            rows = validator.check(chunk)
            # once the file is known bad, keep checking (every problem is listed) but write nothing
            if not problems and not _any(parse_errors):
                await writer.add(rows)
        validator.finish()
        problems.merge(parse_errors)
        rejected = problems or writer.conflicts
        if rejected:
            report.errors, report.more_errors = rejected.errors, rejected.more
            raise _RolledBack
        if dry_run:
            raise _RolledBack  # what was written only counted what would change
        await writer.finish()


def _any(errors: Iterable[RowError]) -> bool:
    return bool(errors) if isinstance(errors, (ErrorLog, list, tuple)) else False
