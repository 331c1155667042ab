"""CSV ingest: all-or-nothing rejection with every line and reason, idempotence, corrections, CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.cli import main
from bot.ingest.csv_format import parse_csv
from bot.ingest.rows import FormatError
from bot.services.ingest import ingest_rows
from bot.store.measurements import sum_parts
from bot.store.models import Measurement

DATA = Path(__file__).parent / "data"
HEADER = "partner,site,channel,interval_start,interval_minutes,offered,answered,answered_within_sla,handled,handle_seconds"
ROW = "acme,krakow,voice,2026-11-16T08:00:00+01:00,15,100,95,90,95,28500"


def csv_text(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


async def ingest_csv(core, text: str, **kw):  # noqa: ANN001
    records, errors = parse_csv(text)
    return await ingest_rows(core, records, source="test.csv", errors=errors, **kw)


async def count_rows(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Measurement))).scalar_one()


async def test_ingest_csv_bad_file_rejected_whole_listing_every_line_and_reason(core, make_partner):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    await make_partner("globex", tz="America/Sao_Paulo", sites=("saopaulo",))
    report = await ingest_csv(core, (DATA / "ingest_bad.csv").read_text())
    assert [e.render() for e in report.errors] == [
        "line 3: partner 'acmee' is unknown (known: acme, globex)",
        "line 4: site 'saopaulo' is not a site of acme (its sites: krakow)",
        "line 5: offered is negative (-3)",
        "line 6: answered (12) is larger than offered (10)",
        "line 6: abandoned (11) is larger than offered (10)",
        "line 6: fcr_resolved (13) is larger than handled (12)",
        "line 7: interval_start '2026-11-16 nonsense' is not an ISO 8601 time",
        "line 8: interval_start is 08:10:00 in Europe/Berlin; a 15-minute interval must start on a 15-minute boundary",
        "line 9: interval_minutes 20 is not an interval length; use 15, 30, 60, 1440",
        "line 10: interval_start overlaps line 2 for acme/krakow/voice (abandoned, answered, answered_within_sla)",
        "line 11: channel 'phone' is unknown; use one of chat, email, social, voice",
        "line 12: interval_start '2026-11-16T08:00:00' has no UTC offset; write e.g. 2026-11-16T08:15:00+01:00 or ...Z",
        "line 13: csat_positive (30) is larger than csat_responses (20)",
        "line 13: qa_points (101) is larger than qa_max (100)",
        "line 14: interval_start duplicates line 2 for acme/krakow/voice (abandoned, answered, answered_within_sla)",
        "line 14: interval_start overlaps line 10 for acme/krakow/voice (abandoned, answered, answered_within_sla)",
        "line 15: partner is missing",
    ]
    assert not report.ok and "nothing was written" in report.summary()
    assert await count_rows(core.db) == 0  # the good line 2 was not written either


async def test_ingest_csv_rejection_leaves_earlier_data_untouched(core, make_partner):
    await make_partner("acme")
    assert (await ingest_csv(core, csv_text(ROW))).ok
    async with core.db.session() as s:
        before = sorted((m.metric, m.num, m.den) for m in (await s.execute(select(Measurement))).scalars())
    # a correction of line 2 plus one bad line: the correction must not land either
    report = await ingest_csv(core, csv_text(ROW.replace(",90,", ",10,"),
                                             "acme,krakow,voice,2026-11-16T08:15:00+01:00,15,5,6,1,6,60"))
    assert [e.where for e in report.errors] == ["line 3"]
    async with core.db.session() as s:
        after = sorted((m.metric, m.num, m.den) for m in (await s.execute(select(Measurement))).scalars())
    assert after == before


async def test_ingest_csv_row_overlapping_a_stored_period_of_another_length_is_rejected(core, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin")
    quarter_hours = [f"acme,krakow,voice,2026-11-16T08:{m:02d}:00+01:00,15,10,10,9,10,3000" for m in (0, 15, 30, 45)]
    assert (await ingest_csv(core, csv_text(*quarter_hours))).ok
    # The same hour again as one 60-minute row: stored with the 15-minute rows it would count twice.
    report = await ingest_csv(core, csv_text("acme,krakow,voice,2026-11-16T07:45:00+01:00,15,10,10,9,10,3000",
                                             "acme,krakow,voice,2026-11-16T08:00:00+01:00,60,40,40,36,40,12000"))
    assert [e.render() for e in report.errors] == [
        "line 3: interval_start overlaps the stored 15-minute period from 2026-11-16 08:00 (aht, service_level); "
        "resend with the interval length already stored"]
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["service_level"],
                               start=datetime(2026, 11, 16, tzinfo=UTC), end=datetime(2026, 11, 17, tzinfo=UTC))
    assert sums[(acme.id, "service_level")].volume == 40  # the four quarter hours only, nothing added


async def test_ingest_csv_unknown_and_missing_columns_reject_on_line_1():
    records, errors = parse_csv("partner,site,interval_start,interval_minutes,offered,calls_taken\n"
                                "acme,krakow,2026-11-16T08:00:00Z,15,1,2\n")
    assert records == []
    assert [e.render() for e in errors] == [
        "line 1: unknown column(s): calls_taken; the columns are listed in README (Ingest formats)",
        "line 1: missing required column(s): channel",
    ]


async def test_ingest_csv_row_with_extra_cells_is_reported():
    records, errors = parse_csv(csv_text(ROW + ",7"))
    assert records == [] and [e.render() for e in errors] == ["line 2: 11 cells but 10 columns"]


async def test_ingest_csv_empty_file_is_a_format_error():
    with pytest.raises(FormatError, match="empty"):
        parse_csv("")


async def test_ingest_csv_same_file_twice_changes_nothing_and_correction_replaces(core, make_partner):
    acme = await make_partner("acme")
    text = csv_text(ROW)
    first = await ingest_csv(core, text)
    second = await ingest_csv(core, text)
    assert (first.created, first.changed) == (2, 0)  # service level and AHT
    assert (second.created, second.changed, second.unchanged) == (0, 0, 2)
    corrected = await ingest_csv(core, csv_text(ROW.replace(",100,95,90,", ",100,95,80,")))
    assert (corrected.created, corrected.changed, corrected.unchanged) == (0, 1, 1)
    assert await count_rows(core.db) == 2
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["service_level"],
                               start=datetime(2026, 11, 16, tzinfo=UTC), end=datetime(2026, 11, 17, tzinfo=UTC))
    assert sums[(acme.id, "service_level")].value == pytest.approx(80.0)


async def test_ingest_csv_daily_row_on_dst_change_day_covers_25_local_hours(core, make_partner):
    await make_partner("acme", tz="Europe/Berlin")
    report = await ingest_csv(core, csv_text("acme,krakow,voice,2026-10-25T00:00:00+02:00,1440,100,95,90,95,28500"))
    assert report.ok
    async with core.db.session() as s:
        row = (await s.execute(select(Measurement).limit(1))).scalars().one()
    assert (row.period_end - row.period_start).total_seconds() == 25 * 3600


async def test_ingest_csv_daily_row_where_dst_skips_midnight_starts_at_the_jump(core, make_partner):
    """Cairo's clocks go from 23:59 to 01:00 on 24 April 2026: that day starts at 01:00 (22:00 UTC), 23 hours long."""
    await make_partner("acme", tz="Africa/Cairo")
    for start in ("2026-04-24T00:00:00+02:00", "2026-04-23T22:00:00Z", "2026-04-24T01:00:00+03:00"):  # one instant
        report = await ingest_csv(core, csv_text(f"acme,krakow,voice,{start},1440,100,95,90,95,28500"))
        assert report.ok, report.errors
    async with core.db.session() as s:
        rows = (await s.execute(select(Measurement))).scalars().all()
    assert {(r.period_end - r.period_start).total_seconds() for r in rows} == {23 * 3600}
    assert len({r.period_start for r in rows}) == 1  # the same row each time, not three
    late = await ingest_csv(core, csv_text("acme,krakow,voice,2026-04-24T02:00:00+03:00,1440,100,95,90,95,28500"))
    assert [e.render() for e in late.errors] == [
        "line 2: interval_start is 02:00 in Africa/Cairo; a daily row must start at local midnight"]


async def test_ingest_csv_dry_run_counts_and_writes_nothing(core, make_partner):
    await make_partner("acme")
    report = await ingest_csv(core, csv_text(ROW), dry_run=True)
    assert report.created == 2 and "would be" in report.summary()
    assert await count_rows(core.db) == 0


async def _run(argv: list[str]) -> int:
    # The CLI runs its own event loop; run it in a worker thread from this async test.
    return await asyncio.to_thread(main, argv)


async def test_ingest_cli_prints_counts_then_every_bad_line_and_exits_1(core, make_partner, tmp_path, monkeypatch,
                                                                         capsys):
    await make_partner("acme")
    monkeypatch.setenv("LIAISON_DATABASE_URL", core.db.url)
    good = tmp_path / "good.csv"
    good.write_text(csv_text(ROW))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(ROW.replace(",100,", ",-3,"), "acmee,krakow,voice,2026-11-16T08:15:00+01:00,15,1,1,1,1,1"))
    assert await _run(["ingest", str(good), "--dry-run"]) == 0
    assert "2 new, 0 changed, 0 unchanged would be stored" in capsys.readouterr().out
    assert await count_rows(core.db) == 0
    assert await _run(["ingest", str(good)]) == 0
    assert "2 new, 0 changed, 0 unchanged were stored" in capsys.readouterr().out
    assert await _run(["ingest", str(good)]) == 0
    assert "0 new, 0 changed, 2 unchanged were stored" in capsys.readouterr().out
    assert await _run(["ingest", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "rejected, nothing was written" in out[0]
    assert out[1:] == ["  line 2: offered is negative (-3)", "  line 3: partner 'acmee' is unknown (known: acme)"]


async def test_ingest_cli_unreadable_or_unparseable_file_exits_1(core, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_DATABASE_URL", core.db.url)
    assert await _run(["ingest", str(tmp_path / "missing.csv")]) == 1
    assert "cannot read it" in capsys.readouterr().out
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + b"\nacme,krak\xf3w,voice,2026-11-16T08:00:00+01:00,15,1,1,1,1,1\n")
    assert await _run(["ingest", str(latin)]) == 1
    assert "not UTF-8 text" in capsys.readouterr().out
    broken = tmp_path / "batch.json"
    broken.write_text("{not json")
    assert await _run(["ingest", str(broken)]) == 1
    assert "not valid JSON" in capsys.readouterr().out


async def test_ingest_csv_late_rows_for_judged_days_reopen_evaluation_from_their_period(core, make_partner, clock):
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


async def test_ingest_csv_daily_and_hourly_rows_must_align_in_partner_time(core, make_partner):
    await make_partner("acme", tz="Europe/Berlin")
    report = await ingest_csv(core, csv_text(
        "acme,krakow,voice,2026-11-16T00:00:00Z,1440,100,95,90,95,28500",  # 01:00 in Berlin
        "acme,krakow,chat,2026-11-16T08:30:00+01:00,60,100,95,90,95,28500",
        "acme,krakow,email,2026-11-15T23:00:00Z,1440,100,95,90,95,28500",  # Berlin midnight: fine
    ))
    assert [e.render() for e in report.errors] == [
        "line 2: interval_start is 01:00 in Europe/Berlin; a daily row must start at local midnight",
        "line 3: interval_start is 08:30:00 in Europe/Berlin; a 60-minute interval must start on a 60-minute boundary",
    ]
    assert await count_rows(core.db) == 0
