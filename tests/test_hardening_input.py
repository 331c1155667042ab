"""Issue 13, bad input: the ingest API reads whole bodies up to the cap, parses numbers strictly and
answers every malformed batch with a 422 naming item and field, never a 500."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from adapters.http import create_app
from bot.core import Core
from bot.settings import Settings
from bot.store.models import Measurement

TOKEN = "s3cret-ingest-token"
ITEM = {"partner": "acme", "site": "krakow", "channel": "voice", "interval_start": "2026-11-16T08:00:00+01:00",
        "interval_minutes": 15, "offered": 100, "answered": 95, "answered_within_sla": 90}
CAP = 5_000_000


@pytest.fixture
async def server(db, clock, make_partner):
    await make_partner("acme")
    settings = Settings(_env_file=None, database_url=db.url, ingest_token=SecretStr(TOKEN), ingest_max_bytes=CAP)
    core = Core(db=db, settings=settings, clock=clock)
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


async def post(server, body, *, chunked: bool = False):  # noqa: ANN001
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    data = body.encode() if isinstance(body, str) else body
    if chunked:
        async def gen(raw=data):  # noqa: ANN001
            for i in range(0, len(raw), 65536):
                yield raw[i:i + 65536]
        data = gen()
    async with aiohttp.ClientSession() as http, \
            http.post(server.make_url("/api/v1/measurements"), data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def stored(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Measurement))).scalar_one()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_valid_body_larger_than_one_read_chunk_is_read_whole(server, db, chunked):
    # ~399 KB: one item padded with JSON whitespace far past aiohttp's 256 KiB read chunk
    body = json.dumps([ITEM]) + " " * 399_000
    status, answer = await post(server, body, chunked=chunked)
    assert status == 200, answer
    assert await stored(db) > 0


async def test_a_six_megabyte_chunked_body_is_413(server, db):
    status, answer = await post(server, json.dumps([ITEM]) + " " * 6_000_000, chunked=True)
    assert status == 413 and "larger than" in answer["error"]
    assert await stored(db) == 0


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"measurements": ' + "[" * 5000 + "]" * 5000 + "}",
    "[1, 2",
    "NaN",
])
async def test_malformed_json_is_422_not_500(server, db, body):
    status, answer = await post(server, body)
    assert status == 422 and answer["error"].startswith(("not valid JSON", "expected")), answer
    assert await stored(db) == 0


BAD_VALUES = [
    ("offered", 10**400, "out of range"),
    ("offered", 1e300, "out of range"),
    ("offered", 100.5, "whole number"),
    ("offered", "1_000", "plain decimal"),
    ("offered", "\u0661\u0660\u0660", "plain decimal"),
    ("offered", "1e3", "plain decimal"),
    ("offered", "inf", "plain decimal"),
    ("offered", -5, "negative"),
    ("offered", [1], "not a number"),
    ("interval_start", "9999-12-31T23:45:00+00:00", "out of range"),
    ("interval_start", "0001-01-01T00:00:00+00:00", "out of range"),
    ("interval_minutes", 10**400, "whole number"),
    ("interval_minutes", "1_5", "whole number"),
    ("interval_minutes", "\u0661\u0665", "whole number"),
]


@pytest.mark.parametrize(("field", "value", "says"), BAD_VALUES)
async def test_every_bad_value_is_422_naming_item_and_field(server, db, field, value, says):
    good = dict(ITEM)
    bad = {**ITEM, "interval_start": "2026-11-16T08:15:00+01:00", field: value}
    status, answer = await post(server, json.dumps([good, bad]))
    assert status == 422, answer
    assert {"item": 1, "field": field} == {k: answer["errors"][0][k] for k in ("item", "field")}
    assert says in answer["errors"][0]["error"]
    assert await stored(db) == 0  # the good item is not written either


async def test_fractional_seconds_stay_allowed(server, db):
    status, answer = await post(server, json.dumps([{**ITEM, "handled": 10, "handle_seconds": "3000.5"}]))
    assert status == 200, answer


def test_a_json_file_over_the_load_cap_is_refused_whole_with_a_clear_line(tmp_path, monkeypatch, capsys):
    from adapters.cli import main

    # a JSON export is read whole; a CSV streams (tests/test_ingest_stream.py)
    monkeypatch.setenv("LIAISON_INGEST_FILE_MAX_BYTES", "10000")
    monkeypatch.setenv("LIAISON_DATABASE_URL", f"sqlite:///{tmp_path / 'cap.db'}")
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"partner": "acme", "site": "krakow", "channel": "voice",
                                 "interval_start": "2026-11-16T08:00:00+01:00", "interval_minutes": 15,
                                 "offered": 1}] * 200))
    assert main(["ingest", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "more than one load takes" in out[0] and "split it" in out[0]
