"""Demo data: reproducible, inside the ingest contract, seasonal, and breaching on cue."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from adapters.cli import main
from bot.demo.bulk import insert_rows, metric_parts, seed_partners, synthetic_partners
from bot.demo.generator import COLUMNS, ChannelSpec, Incident, PartnerSpec, SiteSpec, generate
from bot.demo.scenario import example_incidents, example_rows
from bot.store.measurements import sum_parts
from bot.store.models import Measurement

END = date(2026, 11, 15)

# part -> whole pairs that must never invert
_PARTS = (("answered", "offered"), ("abandoned", "offered"), ("answered_within_sla", "answered"),
          ("fcr_resolved", "handled"), ("csat_positive", "csat_responses"),
          ("qa_points", "qa_max"), ("leavers", "headcount"),
          ("trainings_completed", "trainings_assigned"), ("adherent_seconds", "scheduled_seconds"))


@pytest.fixture(scope="module")
def scenario_rows() -> list[dict]:
    return list(example_rows(end=END))


def _daily_sl(rows, partner, site, channel):
    days = defaultdict(lambda: [0, 0])
    for r in rows:
        if (r["partner"], r["site"], r["channel"]) == (partner, site, channel) and r["interval_minutes"] == 15:
            d = date.fromisoformat(r["interval_start"][:10])
            days[d][0] += r["answered_within_sla"]
            days[d][1] += r["offered"]
    return {d: w / o for d, (w, o) in days.items()}


def test_generate_same_seed_same_rows_other_seed_differs():
    spec = synthetic_partners(1, ("voice",))
    a = list(generate(partners=spec, start=date(2026, 3, 2), days=3, seed=11))
    b = list(generate(partners=spec, start=date(2026, 3, 2), days=3, seed=11))
    c = list(generate(partners=spec, start=date(2026, 3, 2), days=3, seed=12))
    assert a == b
    assert a != c


def test_scenario_rows_follow_csv_contract(scenario_rows):
    assert scenario_rows
    for r in scenario_rows:
        assert tuple(r) == COLUMNS
        assert r["channel"] in {"voice", "chat", "email", "social"}
        assert r["interval_minutes"] in (15, 1440)
        assert datetime.fromisoformat(r["interval_start"]).utcoffset() is not None
        for col in COLUMNS[5:]:
            assert r[col] is None or (isinstance(r[col], int) and r[col] >= 0), (col, r)
        for part, whole in _PARTS:
            if r[part] is not None:
                assert r[whole] is not None and r[part] <= r[whole], (part, whole, r)
        if r["ces_responses"] is not None:
            assert r["ces_responses"] <= r["ces_points"] <= 7 * r["ces_responses"]


def test_scenario_covers_example_partners_sites_and_channels(scenario_rows):
    streams = {(r["partner"], r["site"], r["channel"]) for r in scenario_rows}
    assert streams == {
        ("acme", "krakow", "voice"), ("acme", "krakow", "chat"), ("acme", "krakow", "email"),
        ("acme", "lisbon", "voice"), ("acme", "lisbon", "chat"), ("acme", "lisbon", "email"),
        ("northwind", "manila", "voice"), ("northwind", "manila", "chat"),
        ("globex", "saopaulo", "voice"), ("globex", "saopaulo", "email"),
        ("globex", "saopaulo", "social"),
    }
    days = {r["interval_start"][:10] for r in scenario_rows if r["partner"] == "acme"}
    assert len(days) == 56 and max(days) == END.isoformat()


def test_scenario_voice_weekday_seasonality_monday_high_sunday_low(scenario_rows):
    by_dow = defaultdict(int)
    for r in scenario_rows:
        if r["channel"] == "voice" and r["interval_minutes"] == 15:
            by_dow[date.fromisoformat(r["interval_start"][:10]).weekday()] += r["offered"]
    assert by_dow[0] == max(by_dow.values())
    assert by_dow[6] == min(by_dow.values())
    assert by_dow[6] < 0.4 * by_dow[2]


def test_scenario_voice_intraday_curve_quiet_at_night(scenario_rows):
    by_hour = defaultdict(int)
    for r in scenario_rows:
        if r["channel"] == "voice" and r["interval_minutes"] == 15:
            by_hour[int(r["interval_start"][11:13])] += r["offered"]
    assert by_hour[10] > 10 * by_hour[3]
    assert by_hour[10] > by_hour[12] < by_hour[15]


def test_scenario_incident_breaches_then_recovers(scenario_rows):
    incident = example_incidents(END)[0]
    sl = _daily_sl(scenario_rows, incident.partner, incident.site, incident.channel)
    during = [sl[incident.start + timedelta(days=i)] for i in range(incident.days)]
    after = [sl[incident.start + timedelta(days=incident.days + i)] for i in range(1, 5)]
    before = [sl[incident.start - timedelta(days=i)] for i in range(1, 8)]
    assert max(during) < 0.6
    assert sum(after) / len(after) > 0.75
    assert sum(before) / len(before) > 0.75


def test_scenario_healthy_partner_eight_week_service_level_plausible(scenario_rows):
    within = offered = abandoned = 0
    for r in scenario_rows:
        if r["partner"] == "acme" and r["site"] == "lisbon" and r["channel"] == "voice" \
                and r["interval_minutes"] == 15:
            within += r["answered_within_sla"]
            offered += r["offered"]
            abandoned += r["abandoned"]
    assert 0.75 <= within / offered <= 0.95
    assert abandoned / offered < 0.10


def test_scenario_bad_service_days_have_lower_csat(scenario_rows):
    incident = example_incidents(END)[0]
    bad_days = {(incident.start + timedelta(days=i)).isoformat() for i in range(incident.days)}
    bad = [0, 0]
    good = [0, 0]
    for r in scenario_rows:
        if (r["partner"], r["site"], r["channel"], r["interval_minutes"]) == ("acme", "krakow", "voice", 1440):
            bucket = bad if r["interval_start"][:10] in bad_days else good
            bucket[0] += r["csat_positive"]
            bucket[1] += r["csat_responses"]
    assert bad[0] / bad[1] < good[0] / good[1] - 0.03


def test_generate_intervals_align_in_partner_tz_across_dst():
    spec = [PartnerSpec("p", "Europe/Warsaw", (SiteSpec("s", (ChannelSpec("voice", 500, 300.0),)),))]
    # Europe/Warsaw falls back on Sunday 2026-10-25 (a 25-hour day).
    rows = [r for r in generate(partners=spec, start=date(2026, 10, 24), days=3, seed=1)
            if r["interval_minutes"] == 15]
    starts = [datetime.fromisoformat(r["interval_start"]) for r in rows]
    per_day = defaultdict(int)
    for t in starts:
        assert t.minute % 15 == 0 and t.second == 0
        per_day[t.date()] += 1
    assert per_day == {date(2026, 10, 24): 96, date(2026, 10, 25): 100, date(2026, 10, 26): 96}
    assert all(b - a == timedelta(minutes=15) for a, b in zip(starts, starts[1:], strict=False))
    assert {t.utcoffset() for t in starts} == {timedelta(hours=2), timedelta(hours=1)}


def test_generate_email_has_backlog_and_first_response():
    spec = synthetic_partners(1, ("email",))
    rows = [r for r in generate(partners=spec, start=date(2026, 3, 2), days=7, seed=3)
            if r["interval_minutes"] == 15]
    assert all(r["backlog"] is not None and r["answered_within_sla"] is None for r in rows)
    assert sum(r["tickets"] for r in rows) > 0
    assert sum(r["first_response_seconds"] for r in rows) > 0


def test_generate_incident_factor_zero_answers_nothing_within_sla():
    spec = synthetic_partners(1, ("voice",))
    start = date(2026, 3, 3)
    rows = list(generate(partners=spec, start=start, days=1, seed=5,
                         incidents=[Incident("bench01", "main", "voice", start, 1, 0.0)]))
    offered = sum(r["offered"] for r in rows if r["interval_minutes"] == 15)
    within = sum(r["answered_within_sla"] for r in rows if r["interval_minutes"] == 15)
    assert offered > 0 and within < 0.05 * offered


def test_metric_parts_nps_counts_map_to_num_den_aux():
    row = dict.fromkeys(COLUMNS)
    row.update(nps_promoters=5, nps_passives=3, nps_detractors=2, backlog=7)
    assert dict((m, (n, d, a)) for m, n, d, a in metric_parts(row)) == {
        "nps": (5.0, 10.0, 2.0), "backlog": (7.0, 1.0, None)}


def test_cli_demo_data_writes_ingest_csv(tmp_path, capsys):
    out = tmp_path / "demo.csv"
    assert main(["demo-data", "--weeks", "1", "--end", "2026-11-15", "--seed", "7", "--out", str(out)]) == 0
    with out.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    assert {r["partner"] for r in rows} == {"acme", "northwind", "globex"}
    assert any(r["csat_responses"] == "" for r in rows)  # not measured -> empty cell
    assert main(["demo-data", "--weeks", "1", "--end", "2026-11-15", "--partners", "2", "--out", "-"]) == 0
    stdout = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["partner"] for r in stdout} == {"bench01", "bench02"}


def test_cli_demo_data_bad_weeks_exits_two(capsys):
    assert main(["demo-data", "--weeks", "0"]) == 2
    assert "--weeks" in capsys.readouterr().err


async def test_bulk_insert_rows_match_generated_sums(db):
    specs = synthetic_partners(2, ("voice", "email"))
    rows = list(generate(partners=specs, start=date(2026, 3, 28), days=2, seed=9))
    ids = await seed_partners(db, specs)
    assert await seed_partners(db, specs) == ids  # idempotent
    count = await insert_rows(db, rows, ids=ids, partners=specs, batch_size=500)
    expected = sum(1 for r in rows for _ in metric_parts(r))
    async with db.session() as s:
        stored = (await s.exec(select(func.count()).select_from(Measurement))).one()
        sl = (await s.exec(select(func.sum(Measurement.num), func.sum(Measurement.den)).where(
            Measurement.metric == "service_level", Measurement.partner_id == ids[("bench01", "main")][0]))).one()
    assert count == expected == stored
    mine = [r for r in rows if r["partner"] == "bench01" and r["answered_within_sla"] is not None]
    assert sl == (sum(r["answered_within_sla"] for r in mine), sum(r["offered"] for r in mine))
    # Stored periods are real UTC datetimes that window queries compare correctly.
    day = [r for r in mine if r["interval_start"].startswith("2026-03-29")]
    start = datetime.fromisoformat(day[0]["interval_start"])
    async with db.session() as s:
        parts = await sum_parts(s, partner_ids=[ids[("bench01", "main")][0]], metrics=["service_level"],
                                start=start,
                                end=datetime.fromisoformat(day[-1]["interval_start"]) + timedelta(minutes=15))
    (only,) = parts.values()
    assert (only.num, only.den) == (sum(r["answered_within_sla"] for r in day),
                                    sum(r["offered"] for r in day))


def test_cli_demo_data_unwritable_out_exits_one(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "demo.csv"
    assert main(["demo-data", "--weeks", "1", "--end", "2026-11-15", "--out", str(target)]) == 1
    assert "cannot write" in capsys.readouterr().err
