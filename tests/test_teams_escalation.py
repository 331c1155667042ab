"""An escalation lived entirely in Teams: filed through a card form, posted to the partner's channel
through the outbox and the real Teams gateway, acknowledged by a button that edits the card in place.

Every hop is real: Activity JSON into /api/messages, botbuilder's CloudAdapter, the Bot Connector
client talking to the fake connector on loopback, the outbox delivery worker.
"""

from __future__ import annotations

import itertools
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
from bot.store.escalations import Escalation
from tests.escalation_world import make_world
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.recording_gateway import RecordingGateway

ACME_TL = "00000000-0000-4000-8000-00000000a001"
LEAD = "00000000-0000-4000-8000-00000000c001"
ESC_CHANNEL = "19:acme-escalations@thread.tacv2"


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


async def no_sleep(_seconds: float) -> None:
    return None


_IDS = itertools.count(1)  # Teams gives every activity its own id; the same id again is a replay


def activity(connector: FakeBotConnector, *, user: str, conversation: str, personal: bool, text: str = "",
             value: dict | None = None, reply_to: str | None = None, kind: str = "message") -> dict:
    act = {"type": kind, "id": f"in-{user[-4:]}-{text or 'press'}-{next(_IDS)}", "channelId": "msteams",
           "serviceUrl": connector.base_url, "from": {"id": f"29:{user}", "aadObjectId": user},
           "recipient": {"id": "28:bot", "name": "Liaison"}, "text": text,
           "conversation": {"id": conversation, "conversationType": "personal" if personal else "channel",
                            "tenantId": "tenant-1"},
           "channelData": {"tenant": {"id": "tenant-1"}}}
    if not personal:
        act["channelData"]["channel"] = {"id": conversation, "name": "acme-escalations"}
    if kind == "conversationUpdate":
        act["membersAdded"] = [{"id": "28:bot"}]
    if value is not None:
        act["value"] = value
    if reply_to:
        act["replyToId"] = reply_to
    return act


async def test_teams_escalation_filed_by_card_form_posted_to_channel_and_acknowledged_in_place(db, clock,
                                                                                               connector):
    await make_world(db)
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url, teams_allow_unauthenticated=True),
                clock=clock)
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()

    async def post(body: dict) -> None:
        async with aiohttp.ClientSession() as http, http.post(srv.make_url("/api/messages"), json=body) as resp:
            assert resp.status in (200, 201), await resp.text()

    try:
        # the app is installed in the partner's escalation channel: its reference is stored by name
        await post(activity(connector, user=LEAD, conversation=ESC_CHANNEL, personal=False,
                            kind="conversationUpdate"))
        # 1. the partner's team leader types "escalate" in their personal chat with the bot
        await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, text="escalate"))
        form = connector.cards("reply")[-1]
        form_activity = connector.of("reply")[-1]
        submit = form["actions"][0]["data"]
        assert submit["form"] == "escalation_file" and submit["fixed"] == {"partner": "acme"}
        # 2. they fill in the card; Teams merges the inputs into the submit data
        typed = dict(submit, severity="P2", category="staffing_attrition", title="Lisbon chat team down to 3 agents",
                     description="Flu wave; chat SL at 40% since 09:00")
        await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, value=typed,
                            reply_to=form_activity.response_id))
        filed = json.dumps(connector.cards("reply")[-1], ensure_ascii=False)
        assert "Filed ESC-" in filed
        calls_before_delivery = len(connector.calls)
        # 3. the outbox delivers the escalation card to the Teams channel (Slack rows to a recorder)
        report = await deliver_all(core, {"teams": gateway_from_core(core),
                                          "slack": RecordingGateway(clock, "slack")},
                                   rng=random.Random(1), sleep=no_sleep)
        assert report.dead == 0, report.errors
        # continue_conversation sends as a reply to its own (random) continuation id; Teams
        # places the message by conversation id, so a channel id without ";messageid=" is top level
        posted = [c for c in connector.calls if c.conversation == ESC_CHANNEL and c.verb in ("send", "reply")]
        assert posted, [(c.verb, c.conversation) for c in connector.calls]
        card_call = posted[0]
        card = card_call.activity["attachments"][0]["content"]
        assert "Lisbon chat team down to 3 agents" in json.dumps(card, ensure_ascii=False)
        ack = next(a for a in card["actions"] if a["data"]["action"] == "escalation_acknowledge")
        # the filer, level 1 of the partner's path, is asked to act in their personal chat, proactively
        dms = [c.activity["attachments"][0]["content"]["body"][0]["text"]
               for c in connector.calls[calls_before_delivery:] if c.conversation == "a:acme-tl"]
        assert dms == ["CRITICAL: Needs your attention: ESC-1 \\[P2\\] Lisbon chat team down to 3 agents"]
        # 4. the client lead presses Acknowledge on the channel card
        card_activity_id = card_call.response_id
        before = len(connector.of("update"))
        await post(activity(connector, user=LEAD, conversation=ESC_CHANNEL, personal=False, value=ack["data"],
                            reply_to=card_activity_id))
        updates = connector.of("update")[before:]
        assert updates and updates[0].conversation == ESC_CHANNEL and updates[0].activity_id == card_activity_id
        edited = json.dumps(updates[0].activity["attachments"][0]["content"], ensure_ascii=False)
        assert "Acknowledged" in edited
    finally:
        await srv.close()
    async with db.session() as s:
        esc = (await s.execute(select(Escalation))).scalars().one()
    assert esc.status == "acknowledged"

