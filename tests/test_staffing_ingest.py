"""Forecast and schedule ingest: validation (all or nothing), idempotent re-sends, versions, the API, DST days."""

from __future__ import annotations

import json
from datetime import date

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.core import Core
from bot.ingest.staffing import parse_csv, parse_json
from bot.services.staffing import day_lines, load_plan, local_days
from bot.services.staffing_ingest import ingest_staffing
from bot.settings import Settings
from bot.store.staffing import ForecastChange, ForecastInterval, ForecastVersion, ScheduleInterval
from tests.fakes.staffing_world import ACME_TZ, make_staffing_world, rows_for_day, to_csv

DAY = date(2026, 12, 7)  # a Monday, three weeks after the test clock


async def _count(db, model) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def _csv(core, text: str, **kw):
    records, errors = parse_csv(text)
    return await ingest_staffing(core, records, source="test", errors=errors, **kw)


async def test_ingest_staffing_csv_stores_forecast_and_schedule_then_resend_changes_nothing(core, db):
    await make_staffing_world(db)
    text = to_csv(rows_for_day(DAY))
    first = await _csv(core, text)
    assert first.ok, first.errors
    assert (first.forecast.created, first.schedule.created) == (96, 96)
    assert first.versions == {"acme": 1}
    again = await _csv(core, text)
    assert again.ok
    assert (again.forecast.created, again.forecast.changed, again.forecast.unchanged) == (0, 0, 96)
    assert (again.schedule.changed, again.schedule.unchanged) == (0, 96)
    assert again.versions == {}
    assert await _count(db, ForecastVersion) == 1
    assert await _count(db, ForecastInterval) == 96
    assert await _count(db, ScheduleInterval) == 96


async def test_ingest_staffing_newer_forecast_replaces_values_and_keeps_the_change(core, db):
    await make_staffing_world(db)
    assert (await _csv(core, to_csv(rows_for_day(DAY, agents=None)))).ok
    newer = await _csv(core, to_csv(rows_for_day(DAY, agents=None, contacts=120)))
    assert newer.ok
    assert (newer.forecast.changed, newer.forecast.unchanged) == (40, 56)  # 08:00-18:00 busy, the rest stays 0
    assert newer.versions == {"acme": 2}
    async with db.session() as s:
        contacts = (await s.execute(select(func.sum(ForecastInterval.contacts)))).scalar_one()
        old, new = (await s.execute(select(func.sum(ForecastChange.old_contacts),
                                           func.sum(ForecastChange.new_contacts)))).one()
        versions = (await s.execute(select(ForecastVersion.number, ForecastVersion.changed)
                                    .order_by(ForecastVersion.number))).all()
    assert contacts == 40 * 120
    assert (old, new) == (40 * 100, 40 * 120)
    assert [tuple(v) for v in versions] == [(1, 0), (2, 40)]


async def test_ingest_staffing_rejects_bad_rows_and_writes_nothing(core, db):
    await make_staffing_world(db)
    good = rows_for_day(DAY)[:4]
    bad = [
        {**good[0], "forecast_contacts": -5},
        {**good[1], "scheduled_agents": 12.5},
        {**good[2], "site": "porto"},
        {**good[3], "site": "saopaulo"},
        {**good[0], "interval_start": good[0]["interval_start"].replace(":00+", ":07+")},
        {**good[1], "interval_minutes": 1440},
        {**good[2], "forecast_aht_seconds": ""},
        {**good[3], "scheduled_seconds": 900},
        {"partner": "acme", "site": "krakow", "channel": "fax", "interval_start": good[0]["interval_start"],
         "interval_minutes": 15, "scheduled_agents": 3},
        dict(good[0]),
    ]
    report = await _csv(core, to_csv(good + bad))
    assert not report.ok
    found = {(e.where, e.field): e.error for e in report.errors}
    assert found[("line 6", "forecast_contacts")] == "is negative (-5)"
    assert "not a whole number of agents" in found[("line 7", "scheduled_agents")]
    assert "'porto' is not a site of acme" in found[("line 8", "site")]
    assert "'saopaulo' is not a site of acme (its sites: krakow, lisbon)" in found[("line 9", "site")]
    assert "15-minute interval must start on a 15-minute boundary" in found[("line 10", "interval_start")]
    assert "1440 is not a staffing interval" in found[("line 11", "interval_minutes")]
    assert "a forecast needs both" in found[("line 12", "forecast_aht_seconds")]
    assert found[("line 13", "scheduled_seconds")] == "is given with scheduled_agents; send one of them"
    assert "'fax' is unknown" in found[("line 14", "channel")]
    assert found[("line 15", "interval_start")].startswith("duplicates line 2 for acme/krakow/voice (")
    assert len(report.errors) == 11  # the schedule of line 15 duplicates line 2's too
    assert report.summary() == f"rejected: {len(report.errors)} problem(s); nothing was written"
    assert await _count(db, ForecastInterval) == 0
    assert await _count(db, ScheduleInterval) == 0
    assert await _count(db, ForecastVersion) == 0


async def test_ingest_staffing_overlapping_rows_in_file_and_against_stored_lengths_are_rejected(core, db):
    await make_staffing_world(db)
    hour = {"partner": "acme", "site": "krakow", "channel": "voice", "interval_start": "2026-12-07T10:00:00+01:00",
            "interval_minutes": 60, "forecast_contacts": 400, "forecast_aht_seconds": 180}
    quarter = {**hour, "interval_start": "2026-12-07T10:30:00+01:00", "interval_minutes": 15,
               "forecast_contacts": 100}
    in_file = await _csv(core, to_csv([hour, quarter]))
    assert [(e.where, e.error) for e in in_file.errors] == [
        ("line 3", "overlaps line 2 for acme/krakow/voice (forecast)")]
    assert (await _csv(core, to_csv([quarter]))).ok
    stored = await _csv(core, to_csv([hour]))
    assert len(stored.errors) == 1
    assert stored.errors[0].where == "line 2"
    assert "overlaps the stored 15-minute forecast interval" in stored.errors[0].error
    # a schedule of another length beside a forecast is a different kind: allowed
    assert (await _csv(core, to_csv([{k: v for k, v in hour.items() if not k.startswith("forecast")}
                                      | {"scheduled_agents": 30}]))).ok


async def test_ingest_staffing_scheduled_seconds_become_fractional_agents(core, db):
    await make_staffing_world(db)
    row = {"partner": "acme", "site": "krakow", "channel": "chat", "interval_start": "2026-12-07T10:00:00+01:00",
           "interval_minutes": 15, "scheduled_seconds": 9450}
    assert (await _csv(core, to_csv([row]))).ok
    async with db.session() as s:
        assert (await s.execute(select(ScheduleInterval.agents))).scalar_one() == pytest.approx(10.5)


@pytest.mark.parametrize(("day", "intervals"), [(date(2027, 3, 28), 92), (date(2026, 10, 25), 100)])
async def test_plan_dst_day_counts_every_local_quarter_hour(core, db, day, intervals):
    world = await make_staffing_world(db)
    assert (await _csv(core, to_csv(rows_for_day(day, hours=(0, 24), contacts=10, agents=8)))).ok
    from zoneinfo import ZoneInfo

    start, end = local_days(day, 1, ZoneInfo(ACME_TZ))
    async with db.session() as s:
        plan = await load_plan(s, partner=world.acme, start=start, end=end)
    (line,) = day_lines(plan)
    assert line.intervals == intervals
    assert line.contacts == pytest.approx(10 * intervals)
    assert line.scheduled_hours == pytest.approx(8 * intervals / 4)


async def test_ingest_staffing_json_bare_list_and_unknown_field(core, db):
    await make_staffing_world(db)
    rows = rows_for_day(DAY)[:2]
    records, errors = parse_json(json.dumps({"staffing": rows}))
    assert (errors, len(records)) == ([], 2)
    records, errors = parse_json(json.dumps([{**rows[0], "offered": 3}]))
    assert [(e.where, e.field) for e in errors] == [("item 0", "offered")]


@pytest.fixture
async def api(db, clock):
    await make_staffing_world(db)
    settings = Settings(_env_file=None, database_url=db.url, ingest_token=SecretStr("tok-123"))
    core = Core(db=db, settings=settings, clock=clock)
    from adapters.api import mount

    app = web.Application()
    mount(app, core)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_api_staffing_stores_rows_rejects_bad_ones_and_needs_the_token(api, db):
    url = api.make_url("/api/v1/staffing")
    rows = rows_for_day(DAY)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"staffing": rows}) as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bearer tok-123"}
        async with http.post(url, json={"staffing": rows}, headers=headers) as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["forecast"] == {"created": 96, "changed": 0, "unchanged": 0}
        assert body["versions"] == {"acme": 1}
        async with http.post(url, json={"staffing": [{**rows[0], "scheduled_agents": -1}]}, headers=headers) as resp:
            assert resp.status == 422
            body = await resp.json()
        assert body["errors"] == [{"item": 0, "field": "scheduled_agents", "error": "is negative (-1)"}]
    assert await _count(db, ScheduleInterval) == 96
