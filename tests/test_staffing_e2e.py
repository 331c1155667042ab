"""Staffing end to end through Slack and Teams: the partner's WFM sends forecast and schedule over the HTTP API, the
shortfall warning reaches acme's alert channel (chart uploaded in Slack, inlined in Teams), a closing schedule edits
it in place with a note in its thread; `/staffing` answers what-ifs; other partners are refused.
Real Bolt, slack_sdk and botbuilder against the fake Web API and the fake Bot Connector.
"""

from __future__ import annotations

import json
import random
from datetime import date

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select

from adapters.http import create_app
from adapters.slack.gateway import gateway_from_core as slack_gateway
from adapters.teams.gateway import gateway_from_core as teams_gateway
from bot.core import Core
from bot.services.delivery import deliver_all
from bot.settings import Settings
from bot.store.outbox import OutboxItem
from tests.escalation_world import make_world
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import block_action, sign, slash_command
from tests.fakes.staffing_world import rows_for_day
from tests.test_reports_teams import activity

SECRET = "staffing-signing-secret-0123456789"
TOKEN = "ingest-token-staffing"
THU = date(2026, 11, 19)
ACME_ALERTS_TEAMS = "19:acme-alerts@thread.tacv2"
LEAD_AAD = "00000000-0000-4000-8000-00000000c001"
GLOBEX_AAD = "00000000-0000-4000-8000-00000000d001"
SPAN = "Thu 19 Nov, voice, Kraków, 10:00-13:00 Warsaw: 30 scheduled vs 35 needed; expected SL 32% vs 80% target"


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def world(db, clock):
    await make_world(db)
    slack = FakeSlackApi()
    await slack.start()
    connector = FakeBotConnector()
    await connector.start()
    settings = Settings(_env_file=None, database_url=db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=slack.base_url + "api/",
                        teams_allow_unauthenticated=True, ingest_token=SecretStr(TOKEN), slack_pace_seconds=0)
    core = Core(db=db, settings=settings, clock=clock)
    await known_channel(core, connector.base_url, key=ACME_ALERTS_TEAMS, name="acme-alerts")
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        yield core, server, slack, connector
    finally:
        await server.close()
        await slack.stop()
        await connector.stop()


async def _api(server: TestServer, rows: list[dict]) -> dict:
    async with aiohttp.ClientSession() as http, http.post(
            server.make_url("/api/v1/staffing"), json={"staffing": rows},
            headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _deliver(core: Core) -> None:
    report = await deliver_all(core, {"slack": slack_gateway(core), "teams": teams_gateway(core)},
                               rng=random.Random(1), sleep=no_sleep)
    assert report.dead == 0, report.errors


async def _slash(server: TestServer, slack: FakeSlackApi, text: str, *, user: str) -> dict:
    before = len(slack.responses)
    body, ctype = slash_command("/staffing", text, user=user, response_url=slack.response_url(f"s{before}"))
    async with aiohttp.ClientSession() as http, http.post(server.make_url("/slack/events"), data=body.encode(),
                                                          headers={"Content-Type": ctype, **sign(SECRET, body)}) as r:
        assert r.status == 200
    await slack.wait_for(lambda f: len(f.responses) > before, within=20)
    return slack.responses[-1]


async def test_staffing_warning_reaches_slack_and_teams_then_closes_in_place(world):
    core, server, slack, connector = world
    short = rows_for_day(THU, agents=35, agents_at={10: 30, 11: 30, 12: 30})
    first = await _api(server, short)
    assert first["versions"] == {"acme": 1}
    await _deliver(core)
    posts = [c.body for c in slack.of("chat.postMessage") if c.body["channel"] == "C0ACMEALERT"]
    assert len(posts) == 1
    blocks = json.dumps(posts[0]["blocks"], ensure_ascii=False)
    assert SPAN in blocks
    ts = await _slack_ts(core)
    completed = slack.of("files.completeUploadExternal")
    assert len(completed) == 1 and completed[0].body["thread_ts"] == ts  # the chart, in the warning's thread
    assert slack.uploads and slack.uploads[0].startswith(b"\x89PNG")
    teams_posts = [c for c in connector.calls if c.conversation == ACME_ALERTS_TEAMS and c.verb in ("send", "reply")]
    assert len(teams_posts) == 1
    card = teams_posts[0].activity["attachments"][0]["content"]
    card_text = json.dumps(card, ensure_ascii=False)
    assert SPAN in card_text and "data:image/png;base64," in card_text
    assert len(json.dumps(teams_posts[0].activity).encode()) < 28_000

    again = await _api(server, short)  # the same export again: nothing changes, nothing is said
    assert again["schedule"]["unchanged"] == 96 and again["versions"] == {}
    await _deliver(core)
    assert len(slack.of("chat.postMessage")) == 1

    closed = await _api(server, rows_for_day(THU, agents=35, forecast=False))
    assert closed["schedule"]["changed"] == 12
    await _deliver(core)
    updates = [c.body for c in slack.of("chat.update") if c.body["channel"] == "C0ACMEALERT"]
    assert len(updates) == 1 and updates[0]["ts"] == ts
    assert "Staffing shortfall closed" in json.dumps(updates[0]["blocks"], ensure_ascii=False)
    thread = [c.body for c in slack.of("chat.postMessage") if c.body.get("thread_ts") == ts]
    assert len(thread) == 1
    teams_updates = [c for c in connector.of("update") if c.conversation == ACME_ALERTS_TEAMS]
    assert len(teams_updates) == 1 and teams_updates[0].activity_id == teams_posts[0].response_id
    assert "Staffing shortfall closed" in json.dumps(teams_updates[0].activity, ensure_ascii=False)


async def _slack_ts(core: Core) -> str:
    """Return the Slack ts the warning was posted at (the outbox keeps the platform's ref)."""
    async with core.db.session() as s:
        ref = (await s.execute(select(OutboxItem.ref).where(
            OutboxItem.key.like("staffing:%@slack:C0ACMEALERT")))).scalar_one()
    return ref.split(":", 1)[1]


async def test_staffing_slash_command_what_if_and_refusal_for_another_partner(world):
    core, server, slack, _connector = world
    await _api(server, rows_for_day(date(2026, 11, 23), agents=35))
    answer = await _slash(server, slack, "acme next-week volume +15%", user="U0LEAD")
    text = json.dumps(answer, ensure_ascii=False)
    assert answer["response_type"] == "ephemeral"
    assert "what-if volume +15%" in text and "4,600 contacts forecast" in text and "nothing was stored" in text
    refused = json.dumps(await _slash(server, slack, "acme next-week", user="U0GLOBEX1"), ensure_ascii=False)
    assert "contacts forecast" not in refused and "Kraków" not in refused
    own = json.dumps(await _slash(server, slack, "next-week", user="U0GLOBEX1"), ensure_ascii=False)
    assert "Globex CX" in own and "Acme" not in own
    # Share in channel: the answer is re-run for the presser and posted, its chart uploaded into its thread
    button = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == "share_in_channel"
    body, ctype = block_action("share_in_channel", button["value"], user="U0LEAD",
                               response_url=slack.response_url("share"), channel="C0CXDIGEST")
    async with aiohttp.ClientSession() as http, http.post(server.make_url("/slack/events"), data=body.encode(),
                                                          headers={"Content-Type": ctype, **sign(SECRET, body)}) as r:
        assert r.status == 200
    await slack.wait_for(lambda f: f.of("files.completeUploadExternal"), within=20)
    shared = [c.body for c in slack.of("chat.postMessage") if c.body["channel"] == "C0CXDIGEST"]
    assert len(shared) == 1 and "what-if volume +15%" in json.dumps(shared[0]["blocks"], ensure_ascii=False)
    (upload,) = slack.of("files.completeUploadExternal")
    assert upload.body["channel_id"] == "C0CXDIGEST" and upload.body["thread_ts"]
    assert slack.uploads[-1].startswith(b"\x89PNG")


async def test_staffing_in_teams_answers_with_an_inline_chart_and_refuses_other_partners(world):
    core, server, _slack, connector = world
    await _api(server, rows_for_day(date(2026, 11, 23), agents=35, agents_at={10: 30}))

    async def say(user: str, text: str, n: int) -> dict:
        body = activity(connector, user=user, conversation=f"a:{user}", personal=True, text=text, n=n)
        async with aiohttp.ClientSession() as http, http.post(server.make_url("/api/messages"), json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
        return connector.cards("reply")[-1]

    card = await say(LEAD_AAD, "staffing acme next-week aht +20s", 1)
    text = json.dumps(card, ensure_ascii=False)
    assert "what-if AHT +20s" in text and "data:image/png;base64," in text
    refused = json.dumps(await say(GLOBEX_AAD, "staffing acme next-week", 2), ensure_ascii=False)
    assert "contacts forecast" not in refused and "Kraków" not in refused
