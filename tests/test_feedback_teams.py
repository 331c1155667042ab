"""End to end through Teams: `feedback` typed in the personal chat gets the card form; the card submit
(Action.Submit data merged with the inputs, as Teams sends it) records the answer. Real botbuilder
CloudAdapter and Bot Connector client against the fake connector on loopback.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from adapters.http import create_app
from bot.core import Core
from bot.settings import Settings
from bot.store.feedback import FeedbackResponse, Pulse, PulseInvite
from jobs import feedback as job
from tests.escalation_world import make_world
from tests.fakes.bot_connector import FakeBotConnector
from tests.test_teams_escalation import activity

ACME_TL = "00000000-0000-4000-8000-00000000a001"
GLOBEX_TL = "00000000-0000-4000-8000-00000000d001"
LEAD = "00000000-0000-4000-8000-00000000c001"


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
    srv = TestServer(create_app(core), host="127.0.0.1")
    await srv.start_server()

    async def post(body: dict) -> None:
        async with aiohttp.ClientSession() as http, http.post(srv.make_url("/api/messages"), json=body) as resp:
            assert resp.status in (200, 201), await resp.text()

    try:
        yield core, post
    finally:
        await srv.close()


async def stored(core: Core) -> list[FeedbackResponse]:
    async with core.db.session() as s:
        return list((await s.execute(select(FeedbackResponse).order_by(FeedbackResponse.id))).scalars().all())


async def test_teams_feedback_card_answers_the_open_pulse(teams, connector):
    core, post = teams
    await job.run(core)
    async with core.db.session() as s:
        pulse = (await s.execute(select(Pulse).where(Pulse.period == "2026-11").order_by(Pulse.id))).scalars().first()
    await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, text="feedback"))
    form = connector.cards("reply")[-1]
    form_activity = connector.of("reply")[-1]
    rendered = json.dumps(form, ensure_ascii=False)
    assert "5 — very good" in rendered and "Input.Toggle" in rendered and "feedback pulse 2026-11" in rendered
    submit = form["actions"][0]["data"]
    assert submit["form"] == "feedback_form"
    typed = dict(submit, communication="3", support="4", comment="More notice before campaign changes, please",
                 anonymous="no")
    await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, value=typed,
                        reply_to=form_activity.response_id))
    assert "Thank you" in json.dumps(connector.cards("reply")[-1], ensure_ascii=False) or \
        "Thank you" in json.dumps(connector.of("reply")[-1].activity, ensure_ascii=False)
    rows = await stored(core)
    assert len(rows) == 1
    row = rows[0]
    assert (row.pulse_id, row.anonymous, row.author_handle, row.author_name) == (pulse.id, False, "acme-tl",
                                                                                 "Tomasz Nowak")
    assert (row.communication, row.clarity, row.support, row.tooling) == (3, None, 4, None)
    async with core.db.session() as s:
        invite = (await s.execute(select(PulseInvite).where(PulseInvite.pulse_id == pulse.id,
                                                            PulseInvite.handle == "acme-tl"))).scalars().one()
    assert invite.answered
    # the same card submitted again (a double click) acts once: the form's own idempotency answers first
    await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, value=typed,
                        reply_to=form_activity.response_id))
    assert "Already saved" in json.dumps(connector.of("reply")[-1].activity, ensure_ascii=False)
    assert len(await stored(core)) == 1


async def test_teams_pulse_button_opens_card_and_other_partner_is_refused(teams, connector):
    core, post = teams
    await job.run(core)
    async with core.db.session() as s:
        acme_id = (await s.execute(select(Pulse.id).join(PulseInvite, PulseInvite.pulse_id == Pulse.id)
                                   .where(PulseInvite.handle == "acme-tl"))).scalar_one()
    press = {"action": "feedback_open_form", "value": f"pulse:{acme_id}"}
    await post(activity(connector, user=GLOBEX_TL, conversation="a:globex-tl", personal=True, value=press))
    refused = json.dumps(connector.of("reply")[-1].activity, ensure_ascii=False)
    assert "not one for your team" in refused and "feedback_form" not in refused
    await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True, value=press))
    form = connector.cards("reply")[-1]
    submit = form["actions"][0]["data"]
    assert submit["form"] == "feedback_form"
    # the globex user replays acme's card submit: the server re-checks and stores nothing
    await post(activity(connector, user=GLOBEX_TL, conversation="a:globex-tl", personal=True,
                        value=dict(submit, communication="1", anonymous="yes")))
    assert await stored(core) == []
    await post(activity(connector, user=ACME_TL, conversation="a:acme-tl", personal=True,
                        value=dict(submit, tooling="2", anonymous="yes")))
    rows = await stored(core)
    assert len(rows) == 1 and rows[0].anonymous and rows[0].author_handle is None and rows[0].pulse_id == acme_id


async def test_teams_client_is_pointed_to_report(teams, connector):
    core, post = teams
    await post(activity(connector, user=LEAD, conversation="a:lead", personal=True, text="feedback"))
    answer = json.dumps(connector.of("reply")[-1].activity, ensure_ascii=False)
    assert "partner users" in answer and "report" in answer
