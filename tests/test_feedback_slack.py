"""End to end through Slack: the pulse job's DM is delivered by the real Slack gateway, a signed press on its
button opens the modal (views.open), a signed view_submission records the answer; `/feedback` opens the
modal any time. Real Bolt and slack_sdk against the fake Web API.
"""

from __future__ import annotations

import json
import random

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from slack_sdk.models.views import View
from sqlalchemy import select

from adapters.http import create_app
from adapters.slack.gateway import gateway_from_core as slack_gateway
from bot.core import Core
from bot.services.delivery import deliver_all
from bot.settings import Settings
from bot.store.feedback import FeedbackResponse, Pulse, PulseInvite
from jobs import feedback as job
from tests.escalation_world import make_world
from tests.fakes.recording_gateway import RecordingGateway
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import block_action, sign, slash_command, view_submission

SECRET = "feedback-signing-secret-0123456789a"


async def no_sleep(_seconds: float) -> None:
    return None


class Slack:
    def __init__(self, core: Core, server: TestServer, fake: FakeSlackApi) -> None:
        self.core, self.server, self.fake = core, server, fake

    async def post(self, body: str, ctype: str) -> tuple[int, str]:
        headers = {"Content-Type": ctype, **sign(SECRET, body)}
        async with aiohttp.ClientSession() as http, \
                http.post(self.server.make_url("/slack/events"), data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def deliver(self) -> None:
        report = await deliver_all(self.core, {"slack": slack_gateway(self.core),
                                               "teams": RecordingGateway(self.core.clock, "teams"),
                                               "console": RecordingGateway(self.core.clock, "console")},
                                   rng=random.Random(1), sleep=no_sleep)
        assert report.dead == 0, report.errors


@pytest.fixture
async def slack(db, clock):
    await make_world(db)
    fake = FakeSlackApi()
    await fake.start()
    settings = Settings(_env_file=None, database_url=db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=fake.base_url + "api/")
    core = Core(db=db, settings=settings, clock=clock)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        yield Slack(core, server, fake)
    finally:
        await server.close()
        await fake.stop()


def modal_values(**typed: str) -> dict:
    out: dict = {}
    for key, value in typed.items():
        if key == "comment":
            out[key] = {key: {"type": "plain_text_input", "value": value}}
        elif key == "anonymous":
            picked = [{"value": "yes", "text": {"type": "plain_text", "text": "x"}}] if value == "yes" else []
            out[key] = {key: {"type": "checkboxes", "selected_options": picked}}
        else:
            out[key] = {key: {"type": "static_select", "selected_option": {"value": value}}}
    return out


def view_of(call) -> dict:
    view = call.body["view"]
    return json.loads(view) if isinstance(view, str) else view


async def responses(s: Slack) -> list[FeedbackResponse]:
    async with s.core.db.session() as session:
        return list((await session.execute(select(FeedbackResponse).order_by(FeedbackResponse.id))).scalars().all())


async def test_pulse_dm_button_modal_and_anonymous_answer(slack):
    s = slack
    await job.run(s.core)
    async with s.core.db.session() as session:
        pulse = (await session.execute(select(Pulse).where(Pulse.period == "2026-11").order_by(Pulse.id)))\
            .scalars().first()
    await s.deliver()
    dms = [c.body for c in s.fake.of("chat.postMessage") if "Feedback pulse 2026-11" in c.body.get("text", "")]
    # acme-tl's DM went to his Slack identity: the gateway opens the DM conversation with him
    opened = [c.body for c in s.fake.of("conversations.open")]
    assert any("U0ACME1" in json.dumps(o) for o in opened)
    assert len(dms) == 4  # acme-tl, acme-am, northwind-tl, globex-tl: one DM each, all on Slack
    button = next(e for d in dms for b in d["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["value"] == f"pulse:{pulse.id}")
    assert button["action_id"] == "feedback_open_form"
    # acme-tl presses the button: the modal opens
    body, ctype = block_action(button["action_id"], button["value"], user="U0ACME1",
                               response_url=s.fake.response_url("b"), channel="D0ACME1")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.of("views.open"))
    view = view_of(s.fake.of("views.open")[-1])
    View(**view).validate_json()
    assert view["callback_id"] == "feedback_form"
    rendered = json.dumps(view, ensure_ascii=False)
    assert "5 — very good" in rendered and "Answer anonymously" in rendered
    values = modal_values(communication="5", clarity="4", comment="Goals are clear & <!here> fine", anonymous="yes")
    status, text = await s.post(*view_submission(view["callback_id"], values, user="U0ACME1",
                                                 private_metadata=view["private_metadata"]))
    assert status == 200
    rows = await responses(s)
    assert len(rows) == 1 and rows[0].pulse_id == pulse.id and rows[0].anonymous
    assert rows[0].author_handle is None and rows[0].author_name is None
    assert (rows[0].communication, rows[0].clarity, rows[0].comment) == (5, 4, "Goals are clear & <!here> fine")
    async with s.core.db.session() as session:
        invite = (await session.execute(select(PulseInvite).where(PulseInvite.pulse_id == pulse.id,
                                                                  PulseInvite.handle == "acme-tl"))).scalars().one()
    assert invite.answered
    # a second press on the same DM is refused clearly, no modal
    before = len(s.fake.of("views.open"))
    body, ctype = block_action(button["action_id"], button["value"], user="U0ACME1",
                               response_url=s.fake.response_url("b2"), channel="D0ACME1")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.responses)
    assert "already answered" in json.dumps(s.fake.responses[-1], ensure_ascii=False)
    assert len(s.fake.of("views.open")) == before


async def test_feedback_slash_command_opens_modal_and_records_adhoc(slack):
    s = slack
    body, ctype = slash_command("/feedback", "", user="U0ACME2", response_url=s.fake.response_url("f"),
                                trigger_id="T-fb")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.of("views.open"))
    view = view_of(s.fake.of("views.open")[-1])
    assert view["callback_id"] == "feedback_form"
    status, text = await s.post(*view_submission(view["callback_id"], modal_values(tooling="2", anonymous="no"),
                                                 user="U0ACME2", private_metadata=view["private_metadata"]))
    assert status == 200
    rows = await responses(s)
    assert len(rows) == 1 and rows[0].pulse_id is None and rows[0].author_name == "Joana Silva"
    # empty answer: the modal shows the error and nothing is stored
    status, text = await s.post(*view_submission(view["callback_id"], modal_values(anonymous="yes"),
                                                 user="U0ACME2", private_metadata=view["private_metadata"]))
    answer = json.loads(text)
    assert answer["response_action"] == "errors" and "comment" in answer["errors"]
    assert len(await responses(s)) == 1


async def test_client_gets_pointed_to_report(slack):
    s = slack
    body, ctype = slash_command("/feedback", "", user="U0LEAD", response_url=s.fake.response_url("l"))
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.responses)
    answer = json.dumps(s.fake.responses[-1], ensure_ascii=False)
    assert "partner users" in answer and "report" in answer
    assert s.fake.of("views.open") == []
