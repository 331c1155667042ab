"""/api/messages edge cases: a failing turn answers with an apology card, bad bodies get clear 4xx answers."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.http import create_app
from bot.core import Core
from bot.settings import Settings
from bot.store.db import Database
from tests.fakes.bot_connector import FakeBotConnector
from tests.test_teams import activity


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


async def serve(core: Core) -> TestServer:
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()
    return srv


async def raw_post(srv: TestServer, data: str, content_type: str = "application/json") -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(srv.make_url("/api/messages"), data=data,
                                                          headers={"Content-Type": content_type}) as resp:
        return resp.status, await resp.text()


async def test_teams_turn_failure_logs_activity_id_and_answers_apology_without_stack_trace(tmp_path, clock,
                                                                                           connector, caplog):
    # A database that cannot be opened makes the turn fail inside the bot, as an outage would.
    broken = Database(f"sqlite:///{tmp_path}/missing-dir/liaison.db")
    core = Core(db=broken, settings=Settings(_env_file=None, database_url=broken.url,
                                             teams_allow_unauthenticated=True), clock=clock)
    srv = await serve(core)
    try:
        with caplog.at_level(logging.ERROR, logger="adapters.teams.http"):
            status, _ = await raw_post(srv, json.dumps(activity(connector, text="kpi")))
    finally:
        await srv.close()
        await broken.dispose()
    assert status in (200, 201)
    [card] = connector.cards("reply")
    text = json.dumps(card)
    assert "Something went wrong on our side" in text and "Nothing was changed" in text
    assert "Traceback" not in text and "OperationalError" not in text and "sqlite" not in text
    [record] = [r for r in caplog.records if "Teams turn failed" in r.getMessage()]
    assert "incoming-" in record.getMessage() and record.exc_info is not None
    reference = record.getMessage().split("(ref ")[1].rstrip(")")
    assert reference in text  # the user can quote it to an admin, who finds this log line


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ("{}", "application/json", 400),  # no activity type
    ("[1, 2]", "application/json", 400),
    ("not json", "application/json", 400),
    ('{"type": "message"}', "text/plain", 415),
])
async def test_teams_malformed_request_gets_clear_4xx_and_no_turn(db, clock, connector, body, content_type, status):
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url, teams_allow_unauthenticated=True),
                clock=clock)
    srv = await serve(core)
    try:
        got, text = await raw_post(srv, body, content_type)
    finally:
        await srv.close()
    assert got == status and "error" in json.loads(text)
    assert connector.calls == []
