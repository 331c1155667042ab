"""End to end through Slack: /announce opens the modal, the signed submission sends the change, the worker
posts each partner's card and the client copy to the fake Web API, site leads press Acknowledge and the
cards are edited with chat.update ("1 of 2 sites acknowledged"), everyone else is refused, "Have a
question" opens a modal whose answer is threaded under the card with the author told. Real Bolt and
slack_sdk over loopback HTTP.
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
from bot.store.announcements import AnnouncementSite
from bot.store.outbox import OutboxItem
from tests.fakes.announcement_world import make_announcement_world
from tests.fakes.recording_gateway import RecordingGateway
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import block_action, sign, slash_command, view_submission

SECRET = "announce-signing-secret-0123456789"
HOSTILE = "Refunds <!channel> go to <https://evil.example|the portal> & <@U0ADMIN> > now"


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
    await make_announcement_world(db)
    fake = FakeSlackApi()
    await fake.start()
    settings = Settings(_env_file=None, database_url=db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=fake.base_url + "api/",
                        # the channel's pace is shared through the database on the test's frozen clock: a
                        # threaded question right after its card would wait for a clock that never moves
                        slack_pace_seconds=0)
    core = Core(db=db, settings=settings, clock=clock)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        yield Slack(core, server, fake)
    finally:
        await server.close()
        await fake.stop()


def modal_values() -> dict:
    def plain(v): return {"type": "plain_text_input", "value": v}
    return {
        "title": {"title": plain("New refund screen in the CRM")},
        "body": {"body": plain(HOSTILE)},
        "category": {"category": {"type": "static_select", "selected_option": {"value": "crm_change"}}},
        "effective_date": {"effective_date": {"type": "datepicker", "selected_date": "2026-11-23"}},
        "effective_time": {"effective_time": {"type": "timepicker", "selected_time": "08:00"}},
        "audience": {"audience": {"type": "static_select", "selected_option": {"value": "partners"}}},
        "partners": {"partners": {"type": "multi_static_select",
                                  "selected_options": [{"value": "acme"}, {"value": "globex"}]}},
        "sites": {"sites": {"type": "multi_static_select", "selected_options": []}},
        "channels": {"channels": {"type": "multi_static_select", "selected_options": []}},
        "link": {"link": {"type": "url_text_input", "value": "https://crm.example/release/42"}},
        "requires_ack": {"requires_ack": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
        "ack_date": {"ack_date": {"type": "datepicker", "selected_date": "2026-11-20"}},
        "ack_time": {"ack_time": {"type": "timepicker", "selected_time": "17:00"}},
        "requires_training": {"requires_training": {"type": "checkboxes", "selected_options": []}},
        "training_date": {"training_date": {"type": "datepicker", "selected_date": None}},
    }


async def open_modal(s: Slack, command: str, text: str, *, user: str = "U0LEAD") -> dict:
    opened = len(s.fake.of("views.open"))
    body, ctype = slash_command(command, text, user=user, response_url=s.fake.response_url("r"),
                                trigger_id=f"T-announce-{opened}")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: len(f.of("views.open")) > opened)
    view = s.fake.of("views.open")[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


async def sites(s: Slack) -> dict[str, AnnouncementSite]:
    async with s.core.db.session() as session:
        return {r.site_key: r for r in (await session.execute(select(AnnouncementSite))).scalars().all()}


async def posted_ts(s: Slack, key: str) -> str:
    """Return the ts Slack gave a delivered outbox row (from its stored ref "C...:ts")."""
    async with s.core.db.session() as session:
        ref = (await session.execute(select(OutboxItem.ref).where(OutboxItem.key == key))).scalar_one()
    return ref.partition(":")[2]


async def press(s: Slack, value: str, user: str, action: str = "announcement_acknowledge", expect: int = 1) -> str:
    """Press a button; wait for ``expect`` response_url posts (a refusal: 1; card replaced and answer: 2)."""
    answered = len(s.fake.responses)
    body, ctype = block_action(action, value, user=user, response_url=s.fake.response_url(f"p-{user}"),
                               channel="C0ACMEANNOUNCE")
    assert (await s.post(body, ctype))[0] == 200
    await s.fake.wait_for(lambda f: len(f.responses) >= answered + expect or action == "announcement_question")
    return json.dumps(s.fake.responses[answered:], ensure_ascii=False)


async def test_slack_announce_acknowledge_in_place_with_the_authorization_matrix(slack):
    s = slack
    view = await open_modal(s, "/announce", "")
    View(**view).validate_json()
    assert view["callback_id"] == "announcement_form"
    status, text = await s.post(*view_submission(view["callback_id"], modal_values(), user="U0LEAD",
                                                 private_metadata=view["private_metadata"]))
    assert (status, text) == (200, "")
    assert sorted(await sites(s)) == ["krakow", "lisbon", "saopaulo"]
    await s.deliver()
    posts = s.fake.of("chat.postMessage")
    by_channel = {p.body["channel"]: p.body for p in posts if p.body["channel"].startswith("C")}
    assert set(by_channel) == {"C0ACMEANNOUNCE", "C0GLXREPORT", "C0CXANNOUNCE"}  # globex falls back to reports
    card = by_channel["C0ACMEANNOUNCE"]
    blocks = json.dumps(card["blocks"], ensure_ascii=False)
    # user text reaches Slack escaped: no live mention, broadcast or link
    assert "<!channel>" not in blocks and "<@U0ADMIN>" not in blocks and "<https://evil" not in blocks
    assert "&lt;!channel&gt;" in blocks and "&amp;" in blocks
    assert "0 of 2 sites acknowledged" in blocks and "São Paulo" not in blocks
    assert "Mon 23 Nov 2026 08:00 CET" in blocks
    buttons = {e["text"]["text"]: e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert list(buttons) == ["Acknowledge: Kraków", "Acknowledge: Lisbon", "Have a question"]
    assert "-03" in json.dumps(by_channel["C0GLXREPORT"]["blocks"], ensure_ascii=False)  # São Paulo time
    krakow = buttons["Acknowledge: Kraków"]
    # everyone but acme's own people is refused, and nothing changes
    for user, says in (("U0STRANGER", "not set up in Liaison"), ("U0LEAD", "site's own team"),
                       ("U0ADMIN", "site's own team"), ("U0GLOBEX1", "not addressed to you"),
                       ("U0ACME2", "Kraków's team")):
        answer = await press(s, krakow, user)
        assert says in answer, (user, answer)
        if user == "U0GLOBEX1":
            assert "Acme" not in answer and "Kraków" not in answer
    assert all(r.acknowledged_at is None for r in (await sites(s)).values())
    s.core.clock.advance(hours=2)
    updates = len(s.fake.of("chat.update"))
    answer = await press(s, krakow, "U0ACME1", expect=2)  # acme's lead
    assert "acknowledged for Kraków" in answer
    row = (await sites(s))["krakow"]
    assert row.acknowledged_name == "Tomasz Nowak" and row.acknowledged_at == s.core.clock.now()
    await s.deliver()
    edits = [c.body for c in s.fake.of("chat.update")[updates:]]
    acme_edit = [e for e in edits if e["channel"] == "C0ACMEANNOUNCE"]
    copy_edit = [e for e in edits if e["channel"] == "C0CXANNOUNCE"]
    assert acme_edit and copy_edit
    assert acme_edit[-1]["ts"] == await posted_ts(s, "announcement:1:card:1@slack:C0ACMEANNOUNCE")
    edited = json.dumps(acme_edit[-1]["blocks"], ensure_ascii=False)
    assert "1 of 2 sites acknowledged" in edited and "Kraków: acknowledged by Tomasz Nowak" in edited
    assert "Acknowledge: Kraków" not in edited and "Acknowledge: Lisbon" in edited
    assert "1 of 3 sites acknowledged" in json.dumps(copy_edit[-1]["blocks"], ensure_ascii=False)
    # Lisbon's site lead acknowledges Lisbon; a second press on Kraków changes nothing
    assert "acknowledged for Lisbon" in await press(s, buttons["Acknowledge: Lisbon"], "U0ACME2", expect=2)
    assert "already acknowledged" in await press(s, krakow, "U0ACME1", expect=2)
    await s.deliver()
    last = json.dumps([c.body for c in s.fake.of("chat.update") if c.body["channel"] == "C0ACMEANNOUNCE"][-1],
                      ensure_ascii=False)
    assert "2 of 2 sites acknowledged" in last


async def test_slack_have_a_question_threads_under_the_card_and_tells_the_author(slack):
    s = slack
    view = await open_modal(s, "/announce", "")
    await s.post(*view_submission(view["callback_id"], modal_values(), user="U0LEAD",
                                  private_metadata=view["private_metadata"]))
    await s.deliver()
    card = next(p for p in s.fake.of("chat.postMessage") if p.body["channel"] == "C0ACMEANNOUNCE")
    value = next(e["value"] for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["text"]["text"] == "Have a question")
    opened = len(s.fake.of("views.open"))
    await press(s, value, "U0ACME2", action="announcement_question")
    await s.fake.wait_for(lambda f: len(f.of("views.open")) > opened)
    modal = s.fake.of("views.open")[-1].body["view"]
    modal = json.loads(modal) if isinstance(modal, str) else modal
    assert modal["callback_id"] == "announcement_question_form"
    values = {"question": {"question": {"type": "plain_text_input", "value": "Does this cover <b>partial</b> refunds?"}}}
    status, _ = await s.post(*view_submission(modal["callback_id"], values, user="U0ACME2",
                                              private_metadata=modal["private_metadata"]))
    assert status == 200
    await s.deliver()
    threaded = [p.body for p in s.fake.of("chat.postMessage")
                if p.body["channel"] == "C0ACMEANNOUNCE" and p.body.get("thread_ts")]
    assert len(threaded) == 1 and threaded[0]["thread_ts"] == await posted_ts(
        s, "announcement:1:card:1@slack:C0ACMEANNOUNCE")
    assert "partial" in json.dumps(threaded[0]["blocks"], ensure_ascii=False)
    dms = [p.body for p in s.fake.of("chat.postMessage") if str(p.body["channel"]).endswith("U0LEAD")
           and "Question about" in p.body["text"]]
    assert len(dms) == 1 and "Joana Silva" in dms[0]["text"]
