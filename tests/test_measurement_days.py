"""Daily sums (measurement_day) stay equal to the periods they sum, whichever way periods are written.

Each test writes periods one way (CSV ingest first and corrected, the ORM, the bulk loader, a
partner's new timezone, the Alembic backfill) and compares every daily sum with one query
over the periods of that partner-local day (:func:`bot.store.measurements.sum_parts`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text

from bot.demo.bulk import _DEFAULTS, insert_rows, seed_partners
from bot.demo.generator import COLUMNS, PartnerSpec, SiteSpec, generate
from bot.domain.windows import Granularity, window_containing
from bot.ingest.csv_format import parse_csv
from bot.services.ingest import ingest_rows
from bot.store.db import sync_url
from bot.store.measurement_days import MeasurementDay, rebuild_partner
from bot.store.measurements import sum_parts, sum_windows
from bot.store.models import Measurement, Partner

METRICS = ("service_level", "aht", "nps", "backlog", "csat")
SPECS = [PartnerSpec("acme", "Europe/Berlin", (SiteSpec("krakow", (_DEFAULTS["voice"], _DEFAULTS["email"])),
                                               SiteSpec("lodz", (_DEFAULTS["voice"],))))]
FIRST = date(2026, 10, 22)  # the week of Berlin's DST change (2026-10-25)


async def assert_days_match_periods(db, partner_id: int, first: date = FIRST, days: int = 7) -> int:  # noqa: ANN001
    """Compare every day's sums (all scopes) with the periods; return the number of days holding data."""
    async with db.session() as s:
        tz = ZoneInfo((await s.get(Partner, partner_id)).timezone)
        windows = [window_containing(Granularity.DAY, datetime.combine(first + timedelta(days=i), datetime.min.time(),
                                                                       tzinfo=tz) + timedelta(hours=12), tz)
                   for i in range(days)]
        sums = await sum_windows(s, wanted=[(partner_id, w) for w in windows], metrics=METRICS)
        with_data = 0
        for w in windows:
            for metric in METRICS:
                for channel in (None, "voice", "email"):
                    old = (await sum_parts(s, partner_ids=[partner_id], metrics=[metric], start=w.start_utc,
                                           end=w.end_utc, channel=channel)).get((partner_id, metric))
                    new = sums.parts(partner_id, metric, (w.start_utc, w.end_utc), channel=channel)
                    if old is None:
                        assert new is None, (w.label, metric, channel)
                        continue
                    assert new is not None, (w.label, metric, channel)
                    assert (new.num, new.den, new.rows) == (pytest.approx(old.num), pytest.approx(old.den), old.rows), (
                        w.label, metric, channel)
                    with_data += metric == "service_level" and channel is None
        return with_data


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_measurement_days_follow_first_and_corrected_csv_ingest(core, db):
    ids = await seed_partners(db, SPECS)
    partner_id = next(iter(ids.values()))[0]
    rows = list(generate(partners=SPECS, start=FIRST, days=7, seed=5, interval_minutes=60))
    records, errors = parse_csv(_csv(rows))
    first = await ingest_rows(core, records, source="first.csv", errors=errors)
    assert first.created == first.measurements > 0
    assert await assert_days_match_periods(db, partner_id) == 7
    # a correction on two days only: every within-SLA count lowered by one
    fixed = [{**r, "answered_within_sla": r["answered_within_sla"] - 1}
             if r["answered_within_sla"] and r["interval_start"][:10] in ("2026-10-25", "2026-10-26") else r
             for r in rows]
    records, errors = parse_csv(_csv(fixed))
    second = await ingest_rows(core, records, source="fix.csv", errors=errors)
    assert second.changed > 0 and second.created == 0
    assert await assert_days_match_periods(db, partner_id) == 7


async def test_ingest_fast_path_keeps_a_source_name_with_tabs_and_backslashes(core, db):
    await seed_partners(db, SPECS)
    rows = list(generate(partners=SPECS, start=FIRST, days=1, seed=5, interval_minutes=60))
    records, errors = parse_csv(_csv(rows))
    name = "ops\\exports\tweek 43\nfinal.csv"
    report = await ingest_rows(core, records, source=name, errors=errors)
    assert report.created > 0
    async with db.session() as s:
        sources = (await s.execute(select(Measurement.source).distinct())).scalars().all()
    assert sources == [name]


async def test_measurement_days_follow_orm_writes_and_deletes(db, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin", sites=())
    start = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 local on the DST day
    async with db.transaction() as s:
        for i in range(8):  # 00:30 on the 25th to 04:30 on the 26th, local
            s.add(Measurement(partner_id=acme.id, scope_site=0, channel="voice", metric="service_level",
                              period_start=start + timedelta(hours=4 * i), period_end=start + timedelta(hours=4 * i, minutes=15),
                              num=8 + i, den=10 + i, ingested_at=start))
    assert await assert_days_match_periods(db, acme.id) == 2
    async with db.transaction() as s:
        row = (await s.execute(select(Measurement).order_by(Measurement.period_start.desc()))).scalars().first()
        row.num = 0
        moved = (await s.execute(select(Measurement).order_by(Measurement.period_start))).scalars().first()
        moved.period_start = moved.period_start - timedelta(days=1)  # into the day before
        moved.period_end = moved.period_end - timedelta(days=1)
        await s.delete((await s.execute(select(Measurement).order_by(Measurement.period_start)
                                        .offset(2).limit(1))).scalars().one())
    assert await assert_days_match_periods(db, acme.id) == 3


async def test_measurement_days_follow_a_partner_timezone_change(db):
    ids = await seed_partners(db, SPECS)
    partner_id = next(iter(ids.values()))[0]
    await insert_rows(db, generate(partners=SPECS, start=FIRST, days=7, seed=5, interval_minutes=60), ids=ids,
                      partners=SPECS)
    assert await assert_days_match_periods(db, partner_id) == 7
    async with db.transaction() as s:
        partner = await s.get(Partner, partner_id)
        partner.timezone = "Asia/Manila"  # every local day now starts 6 or 7 hours earlier
        await s.flush()
        await rebuild_partner(s, partner_id)
    assert await assert_days_match_periods(db, partner_id, first=FIRST - timedelta(days=1), days=9) == 8


def _config_in(tz: str):  # noqa: ANN202
    """Return the example config with acme (the first partner) in ``tz``."""
    from pathlib import Path

    import yaml

    from bot.config import parse_config

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "liaison.example.yaml").read_text(encoding="utf-8"))
    data["partners"][0]["timezone"] = tz
    return parse_config(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


async def test_config_apply_new_partner_timezone_rebuilds_its_daily_sums(db):
    from bot.services.config_apply import apply_config

    await apply_config(db, _config_in("Europe/Berlin"))
    async with db.session() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one()
    async with db.transaction() as s:
        for i in range(24):
            s.add(Measurement(partner_id=acme.id, scope_site=0, channel="voice", metric="service_level",
                              period_start=datetime(2026, 10, 25, tzinfo=UTC) + timedelta(hours=i),
                              period_end=datetime(2026, 10, 25, tzinfo=UTC) + timedelta(hours=i, minutes=15),
                              num=i, den=24, ingested_at=datetime(2026, 10, 25, tzinfo=UTC)))
    assert await assert_days_match_periods(db, acme.id, first=date(2026, 10, 24), days=3) == 2
    await apply_config(db, _config_in("America/New_York"))
    assert await assert_days_match_periods(db, acme.id, first=date(2026, 10, 24), days=3) == 2
    async with db.session() as s:
        starts = (await s.execute(select(MeasurementDay.day_start).distinct())).scalars().all()
    ny = ZoneInfo("America/New_York")
    assert {d.astimezone(ny).time() for d in starts} == {datetime.min.time()}


async def test_migration_backfills_daily_sums_of_stored_periods(db_url, tmp_path):
    from bot.store import migrate

    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path / 'backfill.db'}"
    else:
        import uuid

        schema = f"b_{uuid.uuid4().hex[:10]}"
        base = db_url.split("?")[0]
        admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        db_url = f"{base}?options=-csearch_path%3D{schema}"
    migrate.upgrade(db_url, "4194a33c4538")  # the schema before daily sums
    engine = create_engine(sync_url(db_url))
    with engine.begin() as conn:  # rows written as the app wrote them (Core, the columns' own types)
        conn.execute(Partner.__table__.insert(), [{"id": 1, "slug": "acme", "name": "Acme", "timezone": "Europe/Berlin",
                                                   "locale": "en", "active": True}])
        conn.execute(Measurement.__table__.insert(), [
            {"partner_id": 1, "scope_site": 0, "channel": "voice", "metric": "service_level" if i % 3 else "backlog",
             "period_start": datetime(2026, 10, 24, 20, tzinfo=UTC) + timedelta(hours=2 * i),
             "period_end": datetime(2026, 10, 24, 20, 15, tzinfo=UTC) + timedelta(hours=2 * i), "num": i, "den": 10,
             "source": "old", "ingested_at": datetime(2026, 10, 24, tzinfo=UTC)} for i in range(30)])
    migrate.upgrade(db_url)
    with engine.connect() as conn:
        days = conn.execute(text("SELECT count(*) FROM measurement_day")).scalar_one()
    engine.dispose()
    assert days > 0
    from bot.store.db import Database

    database = Database(db_url)
    try:
        assert await assert_days_match_periods(database, 1, first=date(2026, 10, 24), days=4) == 3
    finally:
        await database.dispose()
        if not db_url.startswith("sqlite"):
            admin = create_engine(sync_url(db_url.split("?")[0]), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
