"""JSON ingest follows the CSV rules: per-item errors with indexes, all or nothing, idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.ingest.json_format import parse_json
from bot.ingest.rows import FormatError
from bot.services.ingest import ingest_rows
from bot.store.measurements import sum_parts
from bot.store.models import Measurement

DATA = Path(__file__).parent / "data"
ITEM = {"partner": "northwind", "site": "manila", "channel": "voice", "interval_start": "2026-11-16T08:00:00+08:00",
        "interval_minutes": 15, "offered": 100, "answered": 95, "answered_within_sla": 90, "abandoned": 3}


async def ingest_json(core, payload, **kw):  # noqa: ANN001
    records, errors = parse_json(payload if isinstance(payload, str) else json.dumps(payload))
    return await ingest_rows(core, records, source="api", errors=errors, **kw)


async def stored(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Measurement))).scalar_one()


@pytest.fixture
async def northwind(make_partner):
    return await make_partner("northwind", tz="Asia/Manila", sites=("manila",))


async def test_ingest_json_sample_batch_aggregates_from_parts(core, northwind):
    report = await ingest_json(core, (DATA / "ingest_batch.json").read_text())
    assert report.ok and (report.rows, report.created) == (3, 2 * 2 + 2)  # sl and aht per chat row; nps, backlog
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[northwind.id], metrics=["service_level", "aht", "nps", "backlog"],
                               start=datetime(2026, 11, 15, 16, tzinfo=UTC), end=datetime(2026, 11, 16, 16, tzinfo=UTC))
    assert sums[(northwind.id, "service_level")].value == pytest.approx(100 * 140 / 200)  # not (87.7 + 50) / 2
    assert sums[(northwind.id, "aht")].value == pytest.approx(69600 / 194)
    assert sums[(northwind.id, "nps")].value == pytest.approx(20.0)
    assert sums[(northwind.id, "backlog")].value == 12


async def test_ingest_json_bad_items_each_reported_with_index_and_nothing_written(core, northwind):
    report = await ingest_json(core, {"measurements": [
        ITEM,
        dict(ITEM, offered=-5, interval_start="2026-11-16T08:15:00+08:00"),
        dict(ITEM, partner="nope"),
        "not an object",
        dict(ITEM, calls=3),
        dict(ITEM, answered=True, interval_start="2026-11-16T08:30:00+08:00"),
        dict(ITEM, interval_minutes=45, interval_start="2026-11-16T09:00:00+08:00"),
        {k: v for k, v in ITEM.items() if k != "channel"},
        dict(ITEM),
        dict(ITEM, interval_start="2026-11-16T08:07:00+08:00"),
    ]})
    assert [(e.position, e.field, e.error) for e in report.errors] == [
        (1, "offered", "is negative (-5)"),
        (2, "partner", "'nope' is unknown (known: northwind)"),
        (3, None, "each measurement must be an object"),
        (4, "calls", "unknown field; the fields are the CSV columns (see README)"),
        (5, "answered", "'True' is not a number"),
        (6, "interval_minutes", "45 is not an interval length; use 15, 30, 60, 1440"),
        (7, "channel", "is missing"),
        (8, "interval_start", "duplicates item 0 for northwind/manila/voice (abandoned, answered, answered_within_sla)"),
        (9, "interval_start", "is 08:07:00 in Asia/Manila; a 15-minute interval must start on a 15-minute boundary"),
    ]
    assert await stored(core.db) == 0


async def test_ingest_json_resend_changes_nothing_and_correction_replaces(core, northwind):
    first = await ingest_json(core, [ITEM])
    again = await ingest_json(core, [ITEM])
    fixed = await ingest_json(core, [dict(ITEM, answered_within_sla=70)])
    assert (first.created, again.created, again.changed, again.unchanged) == (2, 0, 0, 2)
    assert (fixed.changed, fixed.unchanged) == (1, 1)
    async with core.db.session() as s:
        nums = {m.metric: (m.num, m.den) for m in (await s.execute(select(Measurement))).scalars()}
    assert nums == {"service_level": (70.0, 100.0), "abandon_rate": (3.0, 100.0)}


async def test_ingest_json_numbers_as_strings_are_accepted_but_nan_is_not(core, northwind):
    report = await ingest_json(core, [dict(ITEM, offered="100", interval_minutes="15")])
    assert report.ok and report.created == 1 + 1
    with pytest.raises(FormatError, match="NaN"):
        parse_json('[{"partner": "northwind", "offered": NaN}]')


@pytest.mark.parametrize("payload", ["{not json", '{"rows": []}', "42"])
async def test_ingest_json_unreadable_payload_is_a_format_error(payload):
    with pytest.raises(FormatError):
        parse_json(payload)
