"""Ingest: hand-computed aggregation, all-or-nothing rejection, idempotence, corrections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from adapters.cli import main
from bot.ingest.parse import FormatError, parse_csv, parse_json
from bot.services.ingest import ingest_records
from bot.store.measurements import sum_parts
from bot.store.models import Measurement

HEADER = "partner,site,channel,interval_start,interval_minutes,offered,answered,answered_within_sla,handled,handle_seconds"


def csv_text(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


async def ingest_csv(core, text: str, **kw):  # noqa: ANN001
    records, errors = parse_csv(text)
    return await ingest_records(core, records, source="test.csv", errors=errors, **kw)


async def count_rows(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Measurement))).scalar_one()


async def test_ingest_weekly_service_level_is_sum_of_parts_not_mean_of_percentages(core, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin")
    # Monday: 90 of 100 within threshold (90%); Tuesday: 10 of 50 (20%). Mean of percentages: 55%.
    report = await ingest_csv(core, csv_text(
        "acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500",
        "acme,krakow,voice,2026-11-17T08:00:00+01:00,15,50,40,10,40,16000",
    ))
    assert report.ok and report.created == 2 * 2  # service level and AHT per row
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["service_level", "aht"],
                               start=datetime(2026, 11, 15, 23, tzinfo=UTC), end=datetime(2026, 11, 22, 23, tzinfo=UTC))
    assert sums[(acme.id, "service_level")].value == pytest.approx(100 * 100 / 150)  # 66.67%, not 55%
    # volume-weighted AHT: (28500 + 16000) / (95 + 40) = 329.6 s, not (300 + 400) / 2 = 350 s
    assert sums[(acme.id, "aht")].value == pytest.approx(44500 / 135)


async def test_ingest_nps_from_counts_in_json(core, make_partner):
    acme = await make_partner("acme")
    payload = json.dumps({"measurements": [
        {"partner": "acme", "site": "krakow", "channel": "voice", "interval_start": "2026-11-16T00:00:00+01:00",
         "interval_minutes": 1440, "nps_promoters": 50, "nps_passives": 30, "nps_detractors": 20},
        {"partner": "acme", "site": "krakow", "channel": "chat", "interval_start": "2026-11-16T00:00:00+01:00",
         "interval_minutes": 1440, "nps_promoters": 10, "nps_passives": 10, "nps_detractors": 30},
    ]})
    records, errors = parse_json(payload)
    report = await ingest_records(core, records, source="api", errors=errors)
    assert report.ok
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["nps"],
                               start=datetime(2026, 11, 15, 23, tzinfo=UTC), end=datetime(2026, 11, 16, 23, tzinfo=UTC))
    # (60 promoters - 50 detractors) / 150 responses = +6.7, not the mean of +30 and -40 (-5)
    assert sums[(acme.id, "nps")].value == pytest.approx(100 * 10 / 150)


async def test_ingest_bad_csv_rejected_whole_with_every_line_and_reason(core, make_partner):
    await make_partner("acme")
    report = await ingest_csv(core, csv_text(
        "acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500",  # good: line 2
        "acmee,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500",  # unknown partner
        "acme,lisbon,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500",  # site of another partner
        "acme,krakow,voice,2026-11-16T08:15:00+01:00,15,-3,0,0,0,0",  # negative count
        "acme,krakow,voice,2026-11-16T08:30:00+01:00,15,10,12,9,12,100",  # part larger than whole
        "acme,krakow,voice,2026-11-16 nonsense,15,10,10,9,10,100",  # unparseable time
        "acme,krakow,voice,2026-11-16T08:10:00+01:00,15,10,10,9,10,100",  # not aligned
        "acme,krakow,voice,2026-11-16T09:00:00+01:00,20,10,10,9,10,100",  # wrong interval length
        "acme,krakow,voice,2026-11-16T08:00:00+01:00,60,10,10,9,10,100",  # overlaps line 2
    ))
    lines = {e.where for e in report.errors}
    assert lines == {f"line {n}" for n in range(3, 11)}
    text = "\n".join(e.render() for e in report.errors)
    for reason in ("unknown partner 'acmee'", "'lisbon' is not a site of acme", "is negative (-3)",
                   "answered (12) is larger than offered (10)", "is not an ISO 8601 time",
                   "15-minute boundary", "20 is not an interval length", "overlaps line 2"):
        assert reason in text
    assert await count_rows(core.db) == 0  # the good line 2 was not written either


async def test_ingest_unknown_column_rejects_file_before_rows():
    records, errors = parse_csv("partner,site,channel,interval_start,interval_minutes,offered,calls_taken\n")
    assert records == [] and "unknown column(s): calls_taken" in errors[0].render()
    with pytest.raises(FormatError):
        parse_json("{not json")


async def test_ingest_same_file_twice_changes_nothing_and_correction_replaces(core, make_partner):
    acme = await make_partner("acme")
    text = csv_text("acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500")
    first = await ingest_csv(core, text)
    second = await ingest_csv(core, text)
    assert (first.created, second.created, second.changed, second.unchanged) == (2, 0, 0, 2)
    corrected = await ingest_csv(core, text.replace(",90,95,28500", ",80,95,28500"))
    assert (corrected.changed, corrected.unchanged) == (1, 1)
    assert await count_rows(core.db) == 2
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["service_level"],
                               start=datetime(2026, 11, 16, tzinfo=UTC), end=datetime(2026, 11, 17, tzinfo=UTC))
    assert sums[(acme.id, "service_level")].value == pytest.approx(80.0)


async def test_ingest_daily_row_in_dst_change_day_covers_25_local_hours(core, make_partner):
    await make_partner("acme", tz="Europe/Berlin")
    report = await ingest_csv(core, csv_text("acme,krakow,voice,2026-10-25T00:00:00+02:00,1440,100,95,90,95,28500"))
    assert report.ok
    async with core.db.session() as s:
        row = (await s.execute(select(Measurement).limit(1))).scalars().one()
    assert (row.period_end - row.period_start).total_seconds() == 25 * 3600


async def test_ingest_dry_run_counts_and_writes_nothing(core, make_partner):
    await make_partner("acme")
    report = await ingest_csv(core, csv_text("acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500"),
                              dry_run=True)
    assert report.created == 2 and "would be" in report.summary()
    assert await count_rows(core.db) == 0


async def test_cli_ingest_prints_bad_lines_and_exits_1(core, make_partner, tmp_path, monkeypatch, capsys):
    await make_partner("acme")
    monkeypatch.setenv("LIAISON_DATABASE_URL", core.db.url)
    good = tmp_path / "good.csv"
    good.write_text(csv_text("acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500"))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text("acme,krakow,voice,2026-11-16T08:00:00+01:00,15,-1,0,0,0,0"))
    assert await _run(["ingest", str(good)]) == 0
    assert "2 new" in capsys.readouterr().out
    assert await _run(["ingest", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "rejected, nothing was written" in out and "line 2: offered: is negative (-1)" in out


async def _run(argv: list[str]) -> int:
    # The CLI runs its own event loop; run it in a worker thread from this async test.
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_ingest_late_rows_for_judged_days_reopen_evaluation_from_their_period(core, make_partner, clock):
    from bot.store.alerts import BreachEpisode
    from bot.store.models import Target

    acme = await make_partner("acme", tz="Europe/Berlin")
    async with core.db.transaction() as s:
        s.add(Target(partner_id=acme.id, key="sl-day", metric="service_level", comparator=">=", target_value=80,
                     window="day", min_volume=10, channel="voice"))
    clock.set(datetime(2026, 11, 20, 10, tzinfo=UTC))
    good = [f"acme,krakow,voice,2026-11-{d}T09:00:00+01:00,15,100,95,90,95,28500" for d in (17, 18, 19)]
    assert (await ingest_csv(core, csv_text(*good))).ok  # the hook judges Nov 17-19: all on target
    late = await ingest_csv(core, csv_text("acme,krakow,voice,2026-11-17T10:00:00+01:00,15,100,60,20,60,18000"))
    assert late.ok and late.earliest == datetime(2026, 11, 17, 9, tzinfo=UTC)
    async with core.db.session() as s:
        episodes = (await s.execute(select(BreachEpisode))).scalars().all()
    # Nov 17 is now 110 of 200 = 55%: the late file re-judged a day the marks had passed.
    assert [e.opened_at for e in episodes] == [datetime(2026, 11, 16, 23, tzinfo=UTC)]
