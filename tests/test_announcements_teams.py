"""End to end through Teams: `announce` answers with the card form, the submitted card sends the change, the
outbox delivers acme's card and the client copy through the fake Bot Connector, another partner's press is
refused, the Lisbon site lead and acme's lead acknowledge with the card's buttons and the channel activity
is updated in place ("1 of 2 sites acknowledged").
"""

from __future__ import annotations

import json
import random

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from adapters.http import create_app
from adapters.teams.gateway import gateway_from_core
from bot.core import Core
from bot.services.delivery import deliver_all
from bot.settings import Settings
from bot.store.announcements import AnnouncementSite
from tests.fakes.announcement_world import make_announcement_world
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.recording_gateway import RecordingGateway

ACME_TL = "00000000-0000-4000-8000-00000000a001"
ACME_AM = "00000000-0000-4000-8000-00000000a002"  # Lisbon's site lead
GLOBEX_TL = "00000000-0000-4000-8000-00000000d001"
LEAD = "00000000-0000-4000-8000-00000000c001"
ACME_CHANNEL = "19:acme-announcements@thread.tacv2"
CX_CHANNEL = "19:cx-announcements@thread.tacv2"
HOSTILE = "Refunds <b>now</b> & [click](https://evil.example) **here** <at>everyone</at>"


def walk(node: object) -> list[dict]:
    if isinstance(node, dict):
        return [node] + [d for v in node.values() for d in walk(v)]
    if isinstance(node, list):
        return [d for v in node for d in walk(v)]
    return []


async def no_sleep(_seconds: float) -> None:
    return None


def activity(connector: FakeBotConnector, *, user: str, conversation: str, personal: bool, text: str = "",
             value: dict | None = None, reply_to: str | None = None, kind: str = "message", n: int = 0) -> dict:
    act = {"type": kind, "id": f"in-{user[-4:]}-{n}", "channelId": "msteams",
           "serviceUrl": connector.base_url, "from": {"id": f"29:{user}", "aadObjectId": user},
           "recipient": {"id": "28:bot", "name": "Liaison"}, "text": text,
           "conversation": {"id": conversation, "conversationType": "personal" if personal else "channel",
                            "tenantId": "tenant-1"},
           "channelData": {"tenant": {"id": "tenant-1"}}}
    if not personal:
        act["channelData"]["channel"] = {"id": conversation, "name": "acme-announcements"}
    if kind == "conversationUpdate":
        act["membersAdded"] = [{"id": "28:bot"}]
    if value is not None:
        act["value"] = value
    if reply_to:
        act["replyToId"] = reply_to
    return act


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams(db, clock, connector):
    await make_announcement_world(db)
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url, teams_allow_unauthenticated=True),
                clock=clock)
    await known_channel(core, connector.base_url, key=ACME_CHANNEL, name="acme-announcements")
    await known_channel(core, connector.base_url, key=CX_CHANNEL, name="cx-announcements")
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()
    counter = iter(range(1, 1000))

    async def post(**kwargs) -> None:
        body = activity(connector, n=next(counter), **kwargs)
        async with aiohttp.ClientSession() as http, http.post(srv.make_url("/api/messages"), json=body) as resp:
            assert resp.status in (200, 201), await resp.text()

    for user in (LEAD, ACME_TL):
        await post(user=user, conversation=f"a:{user}", personal=True, kind="conversationUpdate")
    try:
        yield core, post
    finally:
        await srv.close()


async def deliver(core: Core) -> None:
    report = await deliver_all(core, {"teams": gateway_from_core(core), "slack": RecordingGateway(core.clock, "slack")},
                               rng=random.Random(1), sleep=no_sleep)
    assert report.dead == 0, report.errors


async def test_teams_announce_by_card_form_delivered_and_acknowledged_in_place(teams, connector, clock):
    core, post = teams
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, text="announce")
    form = connector.cards("reply")[-1]
    form_activity = connector.of("reply")[-1]
    submit = form["actions"][0]["data"]
    assert submit["form"] == "announcement_form"
    inputs = {e["id"]: e for e in walk(form) if str(e.get("type", "")).startswith("Input.")}
    assert inputs["partners"]["isMultiSelect"] and inputs["requires_ack"]["type"] == "Input.Toggle"
    assert inputs["effective_date"]["type"] == "Input.Date" and inputs["ack_time"]["type"] == "Input.Time"
    typed = dict(submit, title="New refund screen", body=HOSTILE, category="crm_change",
                 effective_date="2026-11-23", effective_time="08:00", audience="partners", partners="acme",
                 link="https://crm.example/release/42", requires_ack="yes", ack_date="2026-11-20", ack_time="17:00",
                 requires_training="no")
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, value=typed, reply_to=form_activity.response_id)
    assert "AN-1 sent to 2 sites of 1 partner" in json.dumps(connector.cards("reply")[-1], ensure_ascii=False)
    before = len(connector.calls)
    await deliver(core)
    posted = [c for c in connector.calls[before:] if c.conversation == ACME_CHANNEL and c.verb in ("send", "reply")]
    assert len(posted) == 1
    card = posted[0].activity["attachments"][0]["content"]
    texts = [b.get("text", "") for b in walk(card)]
    # user text is inert in the card: markdown escaped, no mention entity
    assert r"Refunds <b>now</b> & \[click\](https://evil.example) \*\*here\*\* <at>everyone</at>" in texts
    assert not posted[0].activity.get("entities")
    assert any("0 of 2 sites acknowledged" in t for t in texts)
    acks = {a["title"]: a["data"] for a in card["actions"] if a["data"]["action"] == "announcement_acknowledge"}
    assert list(acks) == ["Acknowledge: Kraków", "Acknowledge: Lisbon"]
    assert any(c.conversation == CX_CHANNEL for c in connector.calls[before:])
    # another partner's lead, and Lisbon's lead pressing for Kraków: refused, the card stays
    clock.advance(hours=1)
    updates = len(connector.of("update"))
    for user in (GLOBEX_TL, ACME_AM):
        await post(user=user, conversation=ACME_CHANNEL, personal=False, value=acks["Acknowledge: Kraków"],
                   reply_to=posted[0].response_id)
    assert len(connector.of("update")) == updates
    async with core.db.session() as s:
        assert all(r.acknowledged_at is None for r in (await s.execute(select(AnnouncementSite))).scalars().all())
    # Lisbon's lead acknowledges Lisbon: the channel activity is edited in place
    await post(user=ACME_AM, conversation=ACME_CHANNEL, personal=False, value=acks["Acknowledge: Lisbon"],
               reply_to=posted[0].response_id)
    edits = connector.of("update")[updates:]
    assert edits and edits[0].conversation == ACME_CHANNEL and edits[0].activity_id == posted[0].response_id
    edited = json.dumps(edits[0].activity["attachments"][0]["content"], ensure_ascii=False)
    assert "1 of 2 sites acknowledged" in edited and "Lisbon: acknowledged by Joana Silva" in edited
    assert "Acknowledge: Lisbon" not in edited and "Acknowledge: Kraków" in edited
    # acme's lead acknowledges Kraków; the outbox then brings the client copy up to date too
    await post(user=ACME_TL, conversation=ACME_CHANNEL, personal=False, value=acks["Acknowledge: Kraków"],
               reply_to=posted[0].response_id)
    assert "2 of 2 sites acknowledged" in json.dumps(connector.of("update")[-1].activity, ensure_ascii=False)
    before = len(connector.calls)
    await deliver(core)
    copy_edits = [c for c in connector.calls[before:] if c.conversation == CX_CHANNEL and c.verb == "update"]
    assert copy_edits and "2 of 2 sites acknowledged" in json.dumps(copy_edits[-1].activity, ensure_ascii=False)


async def test_teams_have_a_question_opens_the_card_form_and_threads_the_question(teams, connector):
    core, post = teams
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, text="announce")
    form_activity = connector.of("reply")[-1]
    typed = dict(connector.cards("reply")[-1]["actions"][0]["data"], title="New refund screen",
                 body="Refunds move to Cases > Refund.", category="crm_change", effective_date="2026-11-23",
                 audience="sites", sites="acme/lisbon", requires_ack="yes", ack_date="2026-11-20")
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, value=typed, reply_to=form_activity.response_id)
    await deliver(core)
    card_call = next(c for c in connector.calls if c.conversation == ACME_CHANNEL and c.verb in ("send", "reply"))
    card = card_call.activity["attachments"][0]["content"]
    question = next(a["data"] for a in card["actions"] if a["title"] == "Have a question")
    replies = len(connector.of("reply"))
    await post(user=GLOBEX_TL, conversation=ACME_CHANNEL, personal=False, value=question,
               reply_to=card_call.response_id)
    refusal = json.dumps(connector.cards("reply")[replies:], ensure_ascii=False)
    assert "not addressed to you" in refusal and "question_form" not in refusal
    await post(user=ACME_AM, conversation=ACME_CHANNEL, personal=False, value=question,
               reply_to=card_call.response_id)
    form = connector.cards("reply")[-1]
    submit = form["actions"][0]["data"]
    assert submit["form"] == "announcement_question_form"
    await post(user=ACME_AM, conversation=ACME_CHANNEL, personal=False,
               value=dict(submit, question="Are partial refunds included?"), reply_to=connector.of("reply")[-1].response_id)
    before = len(connector.calls)
    await deliver(core)
    threaded = [c for c in connector.calls[before:] if c.conversation.startswith(ACME_CHANNEL) and c.verb in
                ("send", "reply")]
    assert len(threaded) == 1 and "partial refunds" in json.dumps(threaded[0].activity, ensure_ascii=False)
    assert threaded[0].conversation == f"{ACME_CHANNEL};messageid={card_call.response_id}"  # under the card
    to_lead = [c for c in connector.calls[before:] if c.conversation == f"a:{LEAD}"]
    assert to_lead and "Question about AN-1 from Joana Silva" in json.dumps(to_lead[0].activity, ensure_ascii=False)
