"""POST /api/v1/measurements through the real aiohttp app on a loopback port."""

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


@pytest.fixture
async def server(db, clock, make_partner):
    await make_partner("acme")
    settings = Settings(_env_file=None, database_url=db.url, ingest_token=SecretStr(TOKEN), ingest_max_bytes=4096)
    core = Core(db=db, settings=settings, clock=clock)
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


async def post(server, body: bytes | str, *, token: str | None = TOKEN, ctype="application/json"):  # noqa: ANN001
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, \
            http.post(server.make_url("/api/v1/measurements"), data=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def stored(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(Measurement))).scalar_one()


async def test_api_ingest_without_or_with_wrong_token_is_401_and_writes_nothing(server, db):
    assert (await post(server, json.dumps([ITEM]), token=None))[0] == 401
    assert (await post(server, json.dumps([ITEM]), token="guess"))[0] == 401
    assert await stored(db) == 0


async def test_api_ingest_over_size_cap_is_413(server, db):
    status, body = await post(server, json.dumps([ITEM] * 40))
    assert status == 413 and "larger than 4096" in body["error"]
    assert await stored(db) == 0


async def test_api_ingest_chunked_body_over_cap_is_413_without_content_length(server, db):
    async def chunks():
        for _ in range(10):
            yield b" " * 1000  # whitespace: valid JSON padding, 10000 bytes in all

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http, \
            http.post(server.make_url("/api/v1/measurements"), data=chunks(), headers=headers) as resp:
        assert resp.request_info.headers.get("Content-Length") is None
        assert resp.status == 413 and "larger than 4096" in (await resp.json())["error"]
    assert await stored(db) == 0


async def test_api_ingest_not_json_is_415(server):
    status, body = await post(server, "a,b", ctype="text/csv")
    assert status == 415 and "application/json" in body["error"]


async def test_api_ingest_malformed_json_is_422(server, db):
    status, body = await post(server, "{not json")
    assert status == 422 and body["error"].startswith("not valid JSON")
    assert await stored(db) == 0


async def test_api_ingest_without_configured_token_is_503_and_never_open(db, clock, make_partner):
    await make_partner("acme")
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
    srv = TestServer(create_app(core, mounts=("adapters.api",)), host="127.0.0.1")
    await srv.start_server()
    try:
        for token in (None, "anything"):
            status, body = await post(srv, json.dumps([ITEM]), token=token)
            assert status == 503 and "LIAISON_INGEST_TOKEN" in body["error"]
    finally:
        await srv.close()
    assert await stored(db) == 0


async def test_api_ingest_bad_items_are_422_with_per_item_errors(server, db):
    bad = dict(ITEM, offered=-5)
    status, body = await post(server, json.dumps({"measurements": [ITEM, bad, dict(ITEM, partner="nope")]}))
    assert status == 422
    assert body["errors"] == [
        {"item": 1, "field": "offered", "error": "is negative (-5)"},
        {"item": 2, "field": "partner", "error": "'nope' is unknown (known: acme)"},
    ]
    assert await stored(db) == 0


async def test_api_ingest_good_batch_is_200_and_idempotent(server, db):
    status, body = await post(server, json.dumps({"measurements": [ITEM]}))
    assert (status, body) == (200, {"rows": 1, "measurements": 1, "created": 1, "changed": 0, "unchanged": 0})
    status, body = await post(server, json.dumps({"measurements": [ITEM]}))
    assert (status, body["created"], body["changed"], body["unchanged"]) == (200, 0, 0, 1)
    status, body = await post(server, json.dumps({"measurements": [dict(ITEM, answered_within_sla=70)]}))
    assert (status, body["changed"]) == (200, 1)
    assert await stored(db) == 1


async def test_healthz_answers_ok(server):
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/healthz")) as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "ok"
