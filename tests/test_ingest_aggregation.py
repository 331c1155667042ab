"""Hand-computed aggregation after ingest: sums of parts, never a mean of percentages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.csv_format import parse_csv
from bot.services.ingest import ingest_rows
from bot.store.measurements import sum_parts

DATA = Path(__file__).parent / "data"
# Monday 2026-11-16 00:00 to Monday 2026-11-23 00:00 in Europe/Berlin (UTC+1)
WEEK = {"start": datetime(2026, 11, 15, 23, tzinfo=UTC), "end": datetime(2026, 11, 22, 23, tzinfo=UTC)}


@pytest.fixture
async def week(core, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin", sites=("krakow", "lisbon"))
    records, errors = parse_csv((DATA / "ingest_week.csv").read_text())
    report = await ingest_rows(core, records, source="ingest_week.csv", errors=errors)
    assert report.ok, [e.render() for e in report.errors]
    return acme


async def test_ingest_aggregation_weekly_service_level_weights_intervals_by_volume(core, week):
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[week.id], metrics=["service_level", "abandon_rate", "asa"], **WEEK)
    # (180 + 10 + 60) / (200 + 50 + 150) = 62.5%; the mean of 90%, 20% and 40% would be 50%
    assert sums[(week.id, "service_level")].value == pytest.approx(62.5)
    assert sums[(week.id, "service_level")].volume == 400
    assert sums[(week.id, "abandon_rate")].value == pytest.approx(100 * 50 / 400)
    # (3800 + 4000 + 9000) / (190 + 40 + 120) answered = 48 s
    assert sums[(week.id, "asa")].value == pytest.approx(48.0)


async def test_ingest_aggregation_aht_and_fcr_weighted_by_handled(core, week):
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[week.id], metrics=["aht", "fcr"], **WEEK)
    # (57000 + 16000 + 48000) / (190 + 40 + 120) = 345.7 s; the mean of 300, 400 and 400 s would be 366.7 s
    assert sums[(week.id, "aht")].value == pytest.approx(121000 / 350)
    assert sums[(week.id, "fcr")].value == pytest.approx(100 * 270 / 350)


async def test_ingest_aggregation_nps_and_csat_from_counts_across_channels(core, week):
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[week.id], metrics=["nps", "csat"], **WEEK)
    # promoters 60 + 10, detractors 15 + 30, responses 100 + 50: (70 - 45) / 150 = +16.7
    # (the mean of +45 and -40 would be +2.5)
    assert sums[(week.id, "nps")].value == pytest.approx(100 * 25 / 150)
    # (45 + 18) / (50 + 30) = 78.75%, not the mean of 90% and 60%
    assert sums[(week.id, "csat")].value == pytest.approx(78.75)


async def test_ingest_aggregation_per_site_keeps_each_site_parts(core, week):
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[week.id], metrics=["service_level"], group_by="site_id",
                               channel="voice", **WEEK)
    by_site = {key[2]: parts.value for key, parts in sums.items()}
    assert sorted(by_site.values()) == pytest.approx([40.0, 76.0])  # lisbon 60/150, krakow 190/250
