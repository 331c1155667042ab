"""Slack end to end: signed requests into the real aiohttp app, real Bolt, real slack_sdk, fake Web API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import func, select

from adapters.http import create_app
from adapters.slack.app import slash_commands
from bot.core import Core
from bot.settings import Settings
from bot.store.escalations import Escalation
from bot.store.models import Measurement, Target
from tests.fakes.slack_api import FakeSlackApi, Scripted
from tests.fakes.slack_requests import block_action, event, sign, slash_command, view_submission

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def slack():
    fake = FakeSlackApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def app(db, clock, slack, make_partner, make_user):
    acme = await make_partner("acme", name="Acme <!channel> & Co", tz="Europe/Berlin")
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo", sites=("saopaulo",))
    async with db.transaction() as s:
        for p in (acme, globex):
            s.add(Target(partner_id=p.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                         window="week", min_volume=10, channel="voice"))
            t = datetime(2026, 11, 10, 9, tzinfo=UTC)
            s.add(Measurement(partner_id=p.id, scope_site=0, channel="voice", metric="service_level",
                              period_start=t, period_end=t + timedelta(minutes=15), num=70, den=100, ingested_at=t))
    await make_user("U0LEAD", role="client", platform="slack")
    await make_user("U0ACME1", role="partner", partner=acme, platform="slack")
    settings = Settings(_env_file=None, database_url=db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=slack.base_url + "api/")
    core = Core(db=db, settings=settings, clock=clock)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def post(server, body: str, ctype: str, *, headers: dict | None = None):  # noqa: ANN001
    hdrs = {"Content-Type": ctype, **(sign(SECRET, body) if headers is None else headers)}
    async with aiohttp.ClientSession() as http, \
            http.post(server.make_url("/slack/events"), data=body.encode(), headers=hdrs) as resp:
        return resp.status, await resp.text()


def check_blocks(payload: dict) -> None:
    """Parse blocks back through slack_sdk's models and check Slack's limits."""
    assert payload["text"]
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    for block in Block.parse_all(blocks):
        block.validate_json()
    for raw in blocks:
        if raw["type"] == "section":
            assert len(raw.get("text", {}).get("text", "")) <= 3000
            assert len(raw.get("fields", [])) <= 10
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150


async def test_slack_kpi_command_acks_then_answers_ephemerally_via_response_url(app, slack):
    body, ctype = slash_command("/kpi", "sl last-week", user="U0LEAD", response_url=slack.response_url())
    status, text = await post(app, body, ctype)
    assert status == 200 and text == ""
    await slack.wait_for(lambda f: f.responses)
    answer = slack.responses[0]
    assert answer["response_type"] == "ephemeral" and "Portfolio KPIs" in answer["text"]
    check_blocks(answer)
    assert any(b["type"] == "actions" and b["elements"][0]["action_id"] == "share_in_channel" for b in answer["blocks"])


async def test_slack_partner_name_with_channel_mention_is_escaped(app, slack):
    body, ctype = slash_command("/kpi", "acme", user="U0LEAD", response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.responses)
    raw = json.dumps(slack.responses[0])
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw


async def test_slack_unknown_user_is_told_to_ask_an_admin(app, slack):
    body, ctype = slash_command("/sla", "", user="U0NOBODY", response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.responses)
    assert "Ask a Liaison admin to add you" in slack.responses[0]["text"]


async def test_slack_partner_user_cannot_read_other_partner(app, slack):
    body, ctype = slash_command("/kpi", "globex", user="U0ACME1", response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.responses)
    # refused like a name that does not exist: the other partner's name is not revealed
    text = slack.responses[0]["text"]
    assert "is not a partner, metric or window I know" in text and "Globex CX" not in text


async def test_slack_typo_gets_suggestion_not_error(app, slack):
    body, ctype = slash_command("/kpi", "acmee", user="U0LEAD", response_url=slack.response_url())
    assert (await post(app, body, ctype))[0] == 200
    await slack.wait_for(lambda f: f.responses)
    assert "I didn't understand that" in slack.responses[0]["text"]
    assert "acme" in json.dumps(slack.responses[0]["blocks"])


async def test_slack_every_declared_command_is_answered_not_dispatch_failed(app, slack):
    # Verbs whose feature has not landed still answer ("not a Liaison command"), never a 404.
    for name in slash_commands():
        before = (len(slack.responses), len(slack.of("views.open")))
        body, ctype = slash_command(name, "", user="U0LEAD", response_url=slack.response_url())
        assert (await post(app, body, ctype))[0] == 200
        await slack.wait_for(lambda f, b=before: (len(f.responses), len(f.of("views.open"))) != b)
        if len(slack.responses) > before[0]:
            check_blocks(slack.responses[-1])
        else:
            View(**slack.of("views.open")[-1].body["view"]).validate_json()


@pytest.mark.parametrize("headers", [
    {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},  # forged
    {},  # missing
    "stale",  # correctly signed but six minutes old
])
async def test_slack_bad_signature_is_401_with_no_side_effect(app, slack, db, headers):
    body, ctype = slash_command("/escalate", "", user="U0LEAD", response_url=slack.response_url())
    if headers == "stale":
        headers = sign(SECRET, body, timestamp=int(time.time()) - 360)
    status, _ = await post(app, body, ctype, headers=headers)
    assert status == 401
    assert slack.calls == [] and slack.responses == []
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Escalation))).scalar_one() == 0


async def test_slack_escalate_opens_modal_that_slack_sdk_parses(app, slack):
    body, ctype = slash_command("/escalate", "", user="U0ACME1", response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.of("views.open"))
    view = slack.of("views.open")[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    View(**view).validate_json()
    assert view["callback_id"] == "escalation_file" and len(view["blocks"]) <= 100


async def test_slack_form_errors_come_back_in_the_modal_and_nothing_is_created(app, slack, db):
    body, ctype = view_submission("escalation_file", {
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": "P2"}}},
        "category": {"category": {"type": "static_select", "selected_option": {"value": "quality"}}},
        "title": {"title": {"type": "plain_text_input", "value": "   "}},
        "description": {"description": {"type": "plain_text_input", "value": "Calls dropped"}},
    }, user="U0ACME1", private_metadata=json.dumps({"state": "", "fixed": {"partner": "acme"}}))
    status, text = await post(app, body, ctype)
    assert status == 200
    answer = json.loads(text)
    assert answer["response_action"] == "errors" and "title" in answer["errors"]
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Escalation))).scalar_one() == 0


async def test_slack_share_button_posts_publicly_and_retries_after_429(app, slack):
    slack.fail_next("chat.postMessage", Scripted(status=429, error="ratelimited", retry_after=1))
    body, ctype = block_action("share_in_channel", "kpi sl last-week", user="U0LEAD", response_url=slack.response_url())
    assert (await post(app, body, ctype))[0] == 200
    await slack.wait_for(lambda f: len(f.of("chat.postMessage")) == 2, within=10)
    first, second = slack.of("chat.postMessage")
    assert second.at - first.at >= 1.0  # Retry-After honoured by the retry handler
    assert second.body["channel"] == "C0TEST" and "Shared by" in json.dumps(second.body["blocks"])


async def test_slack_home_is_published_once_per_event_even_when_slack_retries(app, slack):
    body, ctype = event({"type": "app_home_opened", "user": "U0LEAD", "tab": "home"}, event_id="Ev01")
    assert (await post(app, body, ctype))[0] == 200
    await slack.wait_for(lambda f: f.of("views.publish"))
    retry_headers = {**sign(SECRET, body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await post(app, body, ctype, headers=retry_headers))[0] == 200
    publishes = slack.of("views.publish")
    assert len(publishes) == 1
    view = publishes[0].body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    View(**view).validate_json()
    assert "Portfolio — last week" in json.dumps(view, ensure_ascii=False)
