"""End to end through Slack: /report opens the modal, the submission creates the report, the worker posts
the card to acme's channel, acme's team leader acknowledges it with a signed button press, the card is
updated with chat.update and the sender gets a DM. Real Bolt and slack_sdk against the fake Web API.
"""

from __future__ import annotations

import json
import random

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from slack_sdk.models.views import View
from sqlalchemy import func, select

from adapters.http import create_app
from adapters.slack.gateway import gateway_from_core as slack_gateway
from bot.core import Core
from bot.services.delivery import deliver_all
from bot.settings import Settings
from bot.store.reports import ReverseReport
from tests.escalation_world import make_world
from tests.fakes.recording_gateway import RecordingGateway
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import block_action, sign, slash_command, view_submission

SECRET = "reports-signing-secret-0123456789ab"
HOSTILE = "Leads from <https://evil.example|bank> & *bold* claims <!channel> <@U0ADMIN> > 3 dropped"


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
                                               "teams": RecordingGateway(self.core.clock, "teams")},
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
        if key in ("partner", "kind", "rating"):
            out[key] = {key: {"type": "static_select", "selected_option": {"value": value}}}
        elif key == "link":
            out[key] = {key: {"type": "url_text_input", "value": value}}
        else:
            out[key] = {key: {"type": "plain_text_input", "value": value}}
    return out


async def open_modal(s: Slack, text: str, *, user: str = "U0LEAD") -> dict:
    opened = len(s.fake.of("views.open"))
    body, ctype = slash_command("/report", text, user=user, response_url=s.fake.response_url("r"),
                                trigger_id=f"T-report-{opened}")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: len(f.of("views.open")) > opened)
    view = s.fake.of("views.open")[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


async def count_reports(s: Slack) -> int:
    async with s.core.db.session() as session:
        return (await session.execute(select(func.count()).select_from(ReverseReport))).scalar_one()


async def test_slack_report_sent_posted_acknowledged_and_sender_told(slack):
    s = slack
    view = await open_modal(s, "acme")
    View(**view).validate_json()
    assert view["callback_id"] == "reverse_report_form"
    assert json.loads(view["private_metadata"])["fixed"] == {"partner": "acme"}
    values = modal_values(kind="process_issue", rating="2", text=HOSTILE, link="https://crm.example/q/1")
    status, text = await s.post(*view_submission(view["callback_id"], values, user="U0LEAD",
                                                 private_metadata=view["private_metadata"]))
    assert (status, text) == (200, "")
    assert await count_reports(s) == 1
    await s.deliver()
    posts = s.fake.of("chat.postMessage")
    card = next(p.body for p in posts if p.body["channel"] == "C0ACMEREPORT")
    copy = next(p.body for p in posts if p.body["channel"] == "C0CXREPORT")
    blocks = json.dumps(card["blocks"], ensure_ascii=False)
    # user text reaches Slack escaped: no live mention or link from the report text
    assert "<!channel>" not in blocks and "<@U0ADMIN>" not in blocks and "<https://evil" not in blocks
    assert "&lt;!channel&gt;" in blocks and "&amp;" in blocks and "&gt; 3 dropped" in blocks
    # user text is shown literally: *bold* reads "*bold*" (a date token's fallback), as in Teams
    star = "<!date^0^{_}|*>"
    assert (f"Leads from &lt;https://evil.example|bank&gt; &amp; {star}bold{star} claims &lt;!channel&gt; &lt;@U0ADMIN&gt; "
            "&gt; 3 dropped") in blocks
    assert "★★☆☆☆ 2/5" in blocks and "RR-1" in blocks
    button = next(e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"]) == ("report_acknowledge", "report:1")
    assert "actions" not in [b["type"] for b in copy["blocks"]]
    # acme's team leader presses Acknowledge on the card
    s.core.clock.advance(hours=3)
    updates_before = len(s.fake.of("chat.update"))
    body, ctype = block_action("report_acknowledge", "report:1", user="U0ACME1",
                               response_url=s.fake.response_url("ack"), channel="C0ACMEREPORT")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.responses or len(f.of("chat.update")) > updates_before)
    async with s.core.db.session() as session:
        report = (await session.execute(select(ReverseReport))).scalars().one()
    assert report.acknowledged_name and report.acknowledged_at == s.core.clock.now()
    await s.deliver()
    updated = [c.body for c in s.fake.of("chat.update")[updates_before:] if c.body["channel"] == "C0ACMEREPORT"]
    assert updated, [c.method for c in s.fake.calls]
    assert "Acknowledged by" in json.dumps(updated[-1]["blocks"], ensure_ascii=False) and "after 3h" in json.dumps(
        updated[-1]["blocks"], ensure_ascii=False)
    assert all(b["type"] != "actions" for b in updated[-1]["blocks"])
    dms = [c.body for c in s.fake.of("chat.postMessage") if str(c.body["channel"]).endswith("U0LEAD")
           and "acknowledged" in c.body["text"].lower()]
    assert len(dms) == 1 and "RR-1" in dms[0]["text"]


async def test_slack_partner_user_is_refused_and_form_errors_stay_in_modal(slack):
    s = slack
    body, ctype = slash_command("/report", "", user="U0ACME1", response_url=s.fake.response_url("p"))
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.responses)
    answer = json.dumps(s.fake.responses[-1], ensure_ascii=False)
    assert "from the client to partners" in answer and "feedback" in answer
    assert s.fake.of("views.open") == []
    view = await open_modal(s, "")
    values = modal_values(partner="acme", kind="praise", rating="5", text="   ", link="crm.example")
    status, text = await s.post(*view_submission(view["callback_id"], values, user="U0LEAD",
                                                 private_metadata=view["private_metadata"]))
    answer = json.loads(text)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"text", "link"}
    assert await count_reports(s) == 0


async def test_slack_other_partner_cannot_acknowledge(slack):
    s = slack
    view = await open_modal(s, "acme")
    await s.post(*view_submission(view["callback_id"], modal_values(kind="praise", text="Great week"), user="U0LEAD",
                                  private_metadata=view["private_metadata"]))
    await s.deliver()
    body, ctype = block_action("report_acknowledge", "report:1", user="U0GLOBEX1", response_url=s.fake.response_url("x"),
                               channel="C0ACMEREPORT")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: f.responses)
    assert "Only Acme" in json.dumps(s.fake.responses[-1], ensure_ascii=False)
    async with s.core.db.session() as session:
        report = (await session.execute(select(ReverseReport))).scalars().one()
    assert report.acknowledged_at is None
