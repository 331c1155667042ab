"""End to end through Teams: `report acme` gets the card form, the card submit creates the report, the
outbox delivers it to acme's reports channel through the fake Bot Connector, and acme's team leader
acknowledges it with the card's button: the channel activity is updated in place.
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
from bot.store.outbox import OutboxItem
from bot.store.reports import ReverseReport
from tests.escalation_world import make_world
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.recording_gateway import RecordingGateway

ACME_TL = "00000000-0000-4000-8000-00000000a001"
GLOBEX_TL = "00000000-0000-4000-8000-00000000d001"
LEAD = "00000000-0000-4000-8000-00000000c001"
ACME_REPORTS = "19:acme-reports@thread.tacv2"
CX_REPORTS = "19:cx-reports@thread.tacv2"
HOSTILE = "Agents said <b>free</b> & [click](https://evil.example) **now** <at>everyone</at>"


def walk(node: object) -> list[dict]:
    """Every dict inside a card, depth first."""
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
        act["channelData"]["channel"] = {"id": conversation, "name": "acme-reports"}
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
    await make_world(db)
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url, teams_allow_unauthenticated=True),
                clock=clock)
    await known_channel(core, connector.base_url, key=ACME_REPORTS, name="acme-reports")
    await known_channel(core, connector.base_url, key=CX_REPORTS, name="cx-reports")
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()
    counter = iter(range(1, 1000))

    async def post(**kwargs) -> None:
        body = activity(connector, n=next(counter), **kwargs)
        async with aiohttp.ClientSession() as http, http.post(srv.make_url("/api/messages"), json=body) as resp:
            assert resp.status in (200, 201), await resp.text()

    for user in (LEAD, ACME_TL):  # personal chats with the bot, as after installing the app
        await post(user=user, conversation=f"a:{user}", personal=True, kind="conversationUpdate")
    try:
        yield core, post
    finally:
        await srv.close()


async def deliver(core: Core) -> None:
    report = await deliver_all(core, {"teams": gateway_from_core(core), "slack": RecordingGateway(core.clock, "slack")},
                               rng=random.Random(1), sleep=no_sleep)
    assert report.dead == 0, report.errors


async def send_from_teams(core, post, connector, text: str) -> dict:
    """The lead types `report acme`, fills the card form and submits; return the submitted data."""
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, text="report acme")
    form = connector.cards("reply")[-1]
    form_activity = connector.of("reply")[-1]
    submit = form["actions"][0]["data"]
    assert submit["form"] == "reverse_report_form" and submit["fixed"] == {"partner": "acme"}
    typed = dict(submit, kind="lead_quality", rating="3", text=text, link="https://crm.example/q/9")
    await post(user=LEAD, conversation=f"a:{LEAD}", personal=True, value=typed, reply_to=form_activity.response_id)
    return typed


async def test_teams_report_sent_by_card_form_delivered_and_acknowledged_in_place(teams, connector, clock):
    core, post = teams
    await send_from_teams(core, post, connector, HOSTILE)
    sent = json.dumps(connector.cards("reply")[-1], ensure_ascii=False)
    assert "RR-1 sent to Acme Contact Solutions" in sent
    before = len(connector.calls)
    await deliver(core)
    posted = [c for c in connector.calls[before:] if c.conversation == ACME_REPORTS and c.verb in ("send", "reply")]
    assert len(posted) == 1
    card = posted[0].activity["attachments"][0]["content"]
    text = json.dumps(card, ensure_ascii=False)
    # user text is inert in the card: markdown escaped (TextBlocks render no HTML), no mention entity
    texts = [b.get("text", "") for b in walk(card)]
    assert r"Agents said <b>free</b> & \[click\](https://evil.example) \*\*now\*\* <at>everyone</at>" in texts
    assert "[click](https://evil.example)" not in text and not posted[0].activity.get("entities")
    assert "★★★☆☆ 3/5" in text and "Lead or meeting quality" in text
    ack = next(a for a in card["actions"] if a["data"]["action"] == "report_acknowledge")
    assert ack["data"]["value"] == "report:1"
    assert any(c.conversation == CX_REPORTS for c in connector.calls[before:])
    # a user of another partner presses: refused, nothing changes
    clock.advance(hours=2, minutes=30)
    updates = len(connector.of("update"))
    await post(user=GLOBEX_TL, conversation=ACME_REPORTS, personal=False, value=ack["data"],
               reply_to=posted[0].response_id)
    assert len(connector.of("update")) == updates
    # acme's team leader presses Acknowledge on the channel card: it is edited in place
    await post(user=ACME_TL, conversation=ACME_REPORTS, personal=False, value=ack["data"],
               reply_to=posted[0].response_id)
    edits = connector.of("update")[updates:]
    assert edits and edits[0].conversation == ACME_REPORTS and edits[0].activity_id == posted[0].response_id
    edited = json.dumps(edits[0].activity["attachments"][0]["content"], ensure_ascii=False)
    assert "Acknowledged by" in edited and "after 2h 30m" in edited and "report_acknowledge" not in edited
    async with core.db.session() as s:
        report = (await s.execute(select(ReverseReport))).scalars().one()
        update_rows = (await s.execute(select(OutboxItem).where(OutboxItem.update_of.is_not(None)))).scalars().all()
    assert report.acknowledged_at == clock.now()
    assert {r.platform for r in update_rows} == {"slack", "teams"}
    # the outbox's own update of the same card and the lead's DM go out through the connector
    before = len(connector.calls)
    await deliver(core)
    dms = [c for c in connector.calls[before:] if c.conversation == f"a:{LEAD}"]
    assert dms and "RR-1 acknowledged by Acme Contact Solutions" in json.dumps(
        dms[0].activity["attachments"][0]["content"], ensure_ascii=False)
