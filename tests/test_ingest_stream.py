"""Streaming CSV ingest: a big file is checked and written in chunks, still all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from adapters.cli.ingest import utf8_lines
from bot.ingest.csv_format import parse_csv, stream_csv
from bot.services.ingest import ingest_rows
from bot.store.measurement_days import MeasurementDay
from bot.store.models import Measurement

HEADER = "partner,site,channel,interval_start,interval_minutes,offered,answered,answered_within_sla,handled,handle_seconds"
START = datetime(2025, 1, 6, tzinfo=UTC)  # Berlin is +01:00 then; every 15-minute UTC step is aligned


def make_lines(count: int, *, channel: str = "voice", first: int = 0, bump: int = 0) -> list[str]:
    """Return ``count`` 15-minute rows of acme/krakow; ``bump`` adds to answered_within_sla."""
    lines = []
    for i in range(first, first + count):
        at = (START + timedelta(minutes=15 * i)).isoformat()
        offered = 20 + i % 17
        lines.append(f"acme,krakow,{channel},{at},15,{offered},{offered - 2},{offered - 4 - i % 3 + bump},"
                     f"{offered - 2},{(offered - 2) * 300}")
    return lines


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join((HEADER, *lines)) + "\n")
    return path


async def ingest_file(core, path: Path, **kw):  # noqa: ANN001
    with path.open("rb") as handle:
        records = stream_csv(utf8_lines(handle))
        return await ingest_rows(core, records, source=path.name, errors=records.errors, **kw)


async def ingest_text(core, text: str, **kw):  # noqa: ANN001
    records, errors = parse_csv(text)
    return await ingest_rows(core, records, source="test.csv", errors=errors, **kw)


async def snapshot(db) -> tuple[list[tuple], list[tuple]]:  # noqa: ANN001
    """Return every stored measurement and daily sum, without ids, in key order."""
    m, d = Measurement.__table__.c, MeasurementDay.__table__.c
    async with db.session() as s:
        rows = (await s.execute(select(m.partner_id, m.site_id, m.scope_site, m.channel, m.metric, m.period_start,
                                       m.period_end, m.num, m.den, m.aux, m.source).order_by(
            m.partner_id, m.scope_site, m.channel, m.metric, m.period_start))).all()
        days = (await s.execute(select(d.partner_id, d.scope_site, d.channel, d.metric, d.day_start, d.num, d.den,
                                       d.aux, d.periods, d.latest_start, d.latest_num).order_by(
            d.partner_id, d.scope_site, d.channel, d.metric, d.day_start))).all()
    return [tuple(r) for r in rows], [tuple(r) for r in days]


async def empty(db) -> None:  # noqa: ANN001
    async with db.transaction() as s:
        await s.execute(delete(MeasurementDay))
        await s.execute(delete(Measurement))


async def test_ingest_stream_bad_last_row_of_a_50k_file_writes_nothing_and_names_the_line(core, db, make_partner,
                                                                                          tmp_path):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    await ingest_text(core, "\n".join((HEADER, *make_lines(3, channel="chat"))) + "\n")
    before = await snapshot(db)
    lines = make_lines(50_000)
    lines[-1] = lines[-1].replace(",15,", ",20,", 1)  # line 50,001: not an interval length
    path = write_csv(tmp_path / "big.csv", lines)
    report = await ingest_file(core, path, chunk_rows=4_000)  # 13 chunks: the first 12 were written, then undone
    assert [e.render() for e in report.errors] == [
        "line 50001: interval_minutes 20 is not an interval length; use 15, 30, 60, 1440"]
    assert report.rows == 50_000
    assert await snapshot(db) == before  # the chat rows stored before, nothing of the big file


async def test_ingest_stream_duplicate_far_apart_rejects_whole_file(core, db, make_partner, tmp_path):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    lines = make_lines(30_000)
    lines.append(lines[10])  # line 30,002 repeats line 12, two chunks earlier
    report = await ingest_file(core, write_csv(tmp_path / "dup.csv", lines), chunk_rows=5_000)
    assert [e.render() for e in report.errors] == [
        "line 30002: interval_start duplicates line 12 for acme/krakow/voice "
        "(answered, answered_within_sla, handle_seconds)"]
    assert await snapshot(db) == ([], [])


async def test_ingest_stream_tiny_chunks_store_and_count_what_one_chunk_does(core, db, make_partner):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    await make_partner("globex", tz="America/Sao_Paulo", sites=("saopaulo",))
    first = "\n".join((HEADER, *make_lines(40), *make_lines(30, channel="chat"),
                       "globex,saopaulo,voice,2025-01-06T00:00:00-03:00,1440,500,480,400,480,144000")) + "\n"
    # the second file: 10 unchanged, 10 corrected, 20 new voice rows, the chat rows again, a new email stream
    second = "\n".join((HEADER, *make_lines(10), *make_lines(10, first=10, bump=1), *make_lines(20, first=40),
                        *make_lines(30, channel="chat"), *make_lines(25, channel="email"))) + "\n"
    results = []
    for chunk_rows in (3, 1, 10_000):
        await empty(db)
        one = await ingest_text(core, first, chunk_rows=chunk_rows)
        two = await ingest_text(core, second, chunk_rows=chunk_rows)
        again = await ingest_text(core, second, chunk_rows=chunk_rows)
        counts = [(r.rows, r.measurements, r.created, r.changed, r.unchanged, r.earliest, sorted(r.partner_ids))
                  for r in (one, two, again)]
        results.append((counts, await snapshot(db)))
    assert results[0] == results[1] == results[2]
    counts, (stored, days) = results[2]
    # new, changed, unchanged: 2 metrics a row; a correction of answered_within_sla changes service level alone
    assert counts[1][2:5] == (45 * 2, 10, 40 * 2 + 10)
    assert counts[2][2:5] == (0, 0, 95 * 2)
    assert len(stored) == (60 + 30 + 25) * 2 + 2 and days


async def test_ingest_stream_stored_period_conflict_is_named_the_same_whatever_the_chunks(core, db, make_partner):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    await ingest_text(core, "\n".join((HEADER, *make_lines(8))) + "\n")
    hourly = "acme,krakow,voice,2025-01-06T01:00:00+01:00,60,80,70,60,70,21000"
    text = "\n".join((HEADER, *make_lines(12, channel="chat"), hourly, *make_lines(5, first=20))) + "\n"
    renders = []
    for chunk_rows in (2, 10_000):
        report = await ingest_text(core, text, chunk_rows=chunk_rows)
        renders.append([e.render() for e in report.errors])
    assert renders[0] == renders[1] == [
        "line 14: interval_start overlaps the stored 15-minute period from 2025-01-06 01:00 "
        "(aht, service_level); resend with the interval length already stored"]
    assert len((await snapshot(db))[0]) == 8 * 2


async def test_ingest_stream_many_bad_rows_list_the_first_and_count_the_rest(core, db, make_partner, tmp_path,
                                                                            capsys, monkeypatch):
    from adapters.cli import main

    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    lines = [line.replace(",15,", ",-15,", 1) for line in make_lines(2_500)]
    path = write_csv(tmp_path / "bad.csv", lines)
    report = await ingest_file(core, path)
    assert len(report.errors) == 1000 and report.more_errors == 1500
    assert report.errors[0].render().startswith("line 2: interval_minutes '-15'")
    assert report.summary() == "rejected: 2500 problem(s); nothing was written"
    monkeypatch.setenv("LIAISON_DATABASE_URL", db.url)
    assert await _cli(main, ["ingest", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: rejected, nothing was written. Fix these and send the whole file again:"
    assert out[-1] == "  ... and 1,500 more (the first 1,000 are listed)" and len(out) == 1002


async def test_ingest_stream_not_utf8_midway_is_one_line_and_writes_nothing(core, db, make_partner, tmp_path,
                                                                           capsys, monkeypatch):
    from adapters.cli import main

    await make_partner("acme", tz="Europe/Berlin", sites=("krakow",))
    path = write_csv(tmp_path / "latin1.csv", make_lines(30))
    path.write_bytes(path.read_bytes() + b"acme,krak\xf3w,voice,2025-01-06T00:00:00Z,15,1,1,1,1,1\n")
    monkeypatch.setenv("LIAISON_DATABASE_URL", db.url)
    assert await _cli(main, ["ingest", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "not UTF-8 text (line 32" in out[0] and "nothing was written" in out[0]
    assert await snapshot(db) == ([], [])


async def _cli(main, argv: list[str]) -> int:  # noqa: ANN001
    import asyncio

    # the CLI runs its own event loop: give it a thread
    return await asyncio.to_thread(main, argv)
