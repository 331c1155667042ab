"""One scripted session through Slack and through Teams reaches the same domain outcome."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestServer
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from pydantic import SecretStr

from adapters.http import create_app
from adapters.teams.bot import LiaisonTeamsBot
from bot.core import Core
from bot.settings import Settings
from tests.fakes.slack_requests import block_action, slash_command
from tests.test_slack_app import SECRET, post, slack  # noqa: F401 - fixtures
from tests.test_teams import ACME_TL, LEAD, activity, connector, teams  # noqa: F401 - fixtures

VALUE = re.compile(r"\d+\.\d%")


def values(payload: object) -> list[str]:
    """The KPI values shown, in order (the same numbers must reach both platforms)."""
    return VALUE.findall(json.dumps(payload, ensure_ascii=False))


@pytest.fixture
async def both(teams, slack, make_user):  # noqa: F811
    """One app serving Slack and Teams over the same world (the Teams fixture's partners and data)."""
    from bot.store.models import Partner

    async with teams.db.session() as s:
        from sqlalchemy import select

        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalars().one()
    await make_user("U0ACME1", role="partner", partner=acme, platform="slack")
    settings = Settings(_env_file=None, database_url=teams.db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=slack.base_url + "api/",
                        teams_allow_unauthenticated=True)
    srv = TestServer(create_app(Core(db=teams.db, settings=settings, clock=teams.clock)), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


async def test_parity_kpi_sla_and_share_reach_same_outcome_in_slack_and_teams(both, slack, connector):  # noqa: F811
    app = server = both
    script = ["kpi sl last-week", "sla", "kpi globex"]
    slack_answers, teams_answers = [], []
    for line in script:
        verb, _, rest = line.partition(" ")
        body, ctype = slash_command(f"/{verb}", rest, user="U0ACME1", response_url=slack.response_url())
        assert (await post(app, body, ctype))[0] == 200
        seen = len(slack_answers)
        await slack.wait_for(lambda f, n=seen: len(f.responses) > n)
        slack_answers.append(slack.responses[-1])
        await post_teams(server, activity(connector, text=line, user=ACME_TL))
        teams_answers.append(connector.cards("reply")[-1])
    for s, t in zip(slack_answers, teams_answers, strict=True):
        assert values(s["blocks"]) == values(t)
    assert "not a partner, metric or window" in slack_answers[2]["text"] and "not a partner, metric or window" in json.dumps(teams_answers[2])
    # The same button, pressed on each platform, shares the same re-authorized answer.
    body, ctype = block_action("share_in_channel", "kpi sl last-week", user="U0ACME1", response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.of("chat.postMessage"))
    await post_teams(server, activity(connector, user=ACME_TL, reply_to="act-1",
                                      value={"action": "share_in_channel", "value": "kpi sl last-week"}))
    shared_slack = slack.of("chat.postMessage")[-1].body["blocks"]
    shared_teams = connector.cards("reply")[-1]
    assert values(shared_slack) == values(shared_teams) == values(slack_answers[0]["blocks"])


async def post_teams(server, body: dict) -> None:  # noqa: ANN001
    from tests.test_teams import post as teams_post

    assert await teams_post(server, body) in (200, 201)


async def test_teams_bot_under_botbuilder_test_adapter_answers_and_remembers_conversation(teams):  # noqa: F811
    adapter = TestAdapter()
    bot = LiaisonTeamsBot(teams)
    incoming = Activity(type=ActivityTypes.message, text="kpi sl last-week", channel_id="msteams",
                        from_property=ChannelAccount(id="29:lead", aad_object_id=LEAD),
                        conversation=ConversationAccount(id="personal-1", conversation_type="personal"),
                        recipient=ChannelAccount(id="28:bot"), service_url="https://test.invalid/")

    async def turn(context: TurnContext) -> None:
        await bot.on_turn(context)

    adapter.logic = turn
    await adapter.receive_activity(incoming)
    reply = adapter.activity_buffer.pop(0)
    card = reply.attachments[0].content
    assert card["version"] == "1.5" and "Portfolio KPIs" in json.dumps(card)
    from sqlalchemy import select

    from bot.store.conversations import ConversationRef

    async with teams.db.session() as s:
        ref = (await s.execute(select(ConversationRef))).scalars().one()
    assert ref.name == f"user:{LEAD}"  # DMs to this user can now be sent proactively
