"""Teams end to end: Activity JSON into /api/messages, real CloudAdapter, replies to a fake Bot Connector."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from adapters.http import create_app
from adapters.teams.adaptive_card import problems, render_card, render_form
from adapters.teams.gateway import TeamsGateway, gateway_from_core
from adapters.teams.pacing import Pacer
from bot.actions import ActionId, FormId
from bot.commands import commands
from bot.compose.breach import breach_alert
from bot.compose.help import help_message
from bot.core import Core
from bot.messages import (
    Action,
    FieldKind,
    Form,
    FormField,
    KpiRow,
    Message,
    Option,
    Section,
    Status,
)
from bot.ports import DeliveryError
from bot.settings import Settings
from bot.store.conversations import ConversationRef
from bot.store.models import Measurement, Target
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.clock import FrozenClock
from tests.test_slack_blockkit import VIEW

LEAD = "00000000-0000-4000-8000-00000000c001"
ACME_TL = "00000000-0000-4000-8000-00000000a001"


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams(db, clock, make_partner, make_user):
    acme = await make_partner("acme", name="Acme [click](http://evil.example)", tz="Europe/Berlin")
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo", sites=("saopaulo",))
    async with db.transaction() as s:
        for p in (acme, globex):
            s.add(Target(partner_id=p.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                         window="week", min_volume=10, channel="voice"))
            t = datetime(2026, 11, 10, 9, tzinfo=UTC)
            s.add(Measurement(partner_id=p.id, scope_site=0, channel="voice", metric="service_level",
                              period_start=t, period_end=t + timedelta(minutes=15), num=70, den=100, ingested_at=t))
    await make_user(LEAD, role="client", platform="teams")
    await make_user(ACME_TL, role="partner", partner=acme, platform="teams")
    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url, teams_allow_unauthenticated=True),
                clock=clock)


@pytest.fixture
async def server(teams):
    srv = TestServer(create_app(teams), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


_IDS = itertools.count(1)


def activity(connector: FakeBotConnector, *, text: str = "", user: str = LEAD, value: dict | None = None,
             reply_to: str | None = None, conversation: str = "19:acme-alerts@thread.tacv2",
             kind: str = "message", activity_id: str | None = None) -> dict:
    # Teams gives every activity its own id; the same id again is a replay.
    act = {"type": kind, "id": activity_id or f"incoming-{next(_IDS)}", "channelId": "msteams", "serviceUrl": connector.base_url,
           "from": {"id": f"29:{user}", "aadObjectId": user, "name": "Someone"},
           "recipient": {"id": "28:bot", "name": "Liaison"},
           "conversation": {"id": conversation, "conversationType": "channel", "tenantId": "tenant-1"},
           "channelData": {"channel": {"id": conversation, "name": "acme-alerts"}, "tenant": {"id": "tenant-1"}},
           "text": text}
    if text.startswith("<at>"):
        act["entities"] = [{"type": "mention", "text": "<at>Liaison</at>", "mentioned": {"id": "28:bot", "name": "Liaison"}}]
    if value is not None:
        act["value"] = value
    if reply_to:
        act["replyToId"] = reply_to
    return act


async def post(server, body: dict, headers: dict | None = None) -> int:  # noqa: ANN001
    async with aiohttp.ClientSession() as http, http.post(server.make_url("/api/messages"), data=json.dumps(body),
                                                          headers={"Content-Type": "application/json",
                                                                   **(headers or {})}) as resp:
        return resp.status


async def test_teams_kpi_message_answers_with_adaptive_card_and_stores_reference(server, connector, teams):
    status = await post(server, activity(connector, text="<at>Liaison</at> kpi sl last-week"))
    assert status in (200, 201)
    [card] = connector.cards("reply")
    assert problems(card) == []
    assert "Portfolio KPIs" in json.dumps(card)
    assert card["actions"][0]["data"] == {"action": "share_in_channel", "value": "kpi sl last-week"}
    async with teams.db.session() as s:
        ref = (await s.execute(select(ConversationRef).where(ConversationRef.platform == "teams"))).scalars().one()
    assert ref.name == "acme-alerts" and ref.service_url == connector.base_url


async def test_teams_partner_name_cannot_inject_a_link(server, connector):
    await post(server, activity(connector, text="kpi acme"))
    raw = json.dumps(connector.cards("reply")[0])
    assert "[click](http" not in raw and "\\\\[click\\\\]" in raw


async def test_teams_unknown_user_and_other_partner_are_refused(server, connector):
    await post(server, activity(connector, text="kpi", user="ffffffff-0000-4000-8000-000000000000"))
    await post(server, activity(connector, text="kpi globex", user=ACME_TL))
    first, second = connector.cards("reply")
    assert "Ask a Liaison admin to add you" in json.dumps(first)
    # refused like a name that does not exist: the other partner's name never reaches the card
    assert "is not a partner, metric or window I know" in json.dumps(second) and "Globex CX" not in json.dumps(second)


async def test_teams_share_button_posts_shared_copy(server, connector):
    await post(server, activity(connector, value={"action": "share_in_channel", "value": "kpi sl last-week"},
                                reply_to="act-original"))
    [card] = connector.cards("reply")
    assert "Shared by" in json.dumps(card)


async def test_teams_escalate_opens_card_form_and_errors_change_nothing(server, connector, teams):
    from bot.store.escalations import Escalation

    await post(server, activity(connector, text="escalate", user=ACME_TL))
    form = connector.cards("reply")[0]
    assert problems(form) == [] and form["actions"][0]["data"]["form"] == "escalation_file"
    data = dict(form["actions"][0]["data"], severity="P2", category="quality", title=" ", description="x")
    await post(server, activity(connector, value=data, user=ACME_TL))
    again = connector.cards("reply")[1]  # the same form again, with the error and the typed values
    assert problems(again) == [] and again["actions"][0]["data"]["form"] == "escalation_file"
    assert "Nothing was saved" in json.dumps(again) and '"value": "x"' in json.dumps(again)
    async with teams.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Escalation))).scalar_one() == 0


async def test_teams_with_app_id_refuses_missing_and_malformed_tokens_without_side_effect(db, clock, connector):
    settings = Settings(_env_file=None, database_url=db.url, microsoft_app_id="11111111-2222-3333-4444-555555555555",
                        microsoft_app_password=SecretStr("pw"))
    srv = TestServer(create_app(Core(db=db, settings=settings, clock=clock)), host="127.0.0.1")
    await srv.start_server()
    try:
        assert await post(srv, activity(connector, text="kpi")) == 401
        assert await post(srv, activity(connector, text="kpi"), {"Authorization": "Bearer not-a-jwt"}) == 401
    finally:
        await srv.close()
    assert connector.calls == []
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(ConversationRef))).scalar_one() == 0


async def proactive_gateway(teams: Core, connector: FakeBotConnector) -> TeamsGateway:
    await known_channel(teams, connector.base_url, key="19:acme-alerts@thread.tacv2", name="acme-alerts", tenant_id=None)
    return gateway_from_core(teams)


async def test_teams_gateway_posts_threads_and_updates_proactively(teams, connector):
    gw = await proactive_gateway(teams, connector)
    first = await gw.post("acme-alerts", breach_alert(VIEW))
    await gw.post("acme-alerts", Message(title="still breaching"), thread_ref=first.ref)
    await gw.update(first.ref, Message(title="acknowledged"))
    assert first.ref.startswith("19:acme-alerts@thread.tacv2|act-")
    # botbuilder's continue_conversation posts as a reply to its continuation activity; Teams
    # places it by conversation id (a thread when the id carries ;messageid=).
    sends = [c for c in connector.calls if c.verb in ("send", "reply")]
    assert sends[0].conversation == "19:acme-alerts@thread.tacv2"
    assert sends[1].conversation.endswith(";messageid=" + first.ref.split("|")[1])
    assert connector.of("update")[0].activity_id == first.ref.split("|")[1]


@pytest.mark.parametrize(("status", "retryable", "gone"), [(429, True, False), (502, True, False),
                                                          (403, False, True), (404, False, True)])
async def test_teams_gateway_maps_failures_and_marks_removed_conversations_stale(teams, connector, status, retryable,
                                                                                 gone):
    gw = await proactive_gateway(teams, connector)
    # a Retry-After longer than the gateway's quick retries wait goes straight back to the outbox
    connector.fail_next(status, retry_after=30 if status == 429 else None)
    with pytest.raises(DeliveryError) as info:
        await gw.post("acme-alerts", Message(title="x"))
    assert (info.value.retryable, info.value.gone) == (retryable, gone)
    async with teams.db.session() as s:
        ref = (await s.execute(select(ConversationRef))).scalars().one()
    assert ref.stale is gone
    if gone:
        with pytest.raises(DeliveryError, match="stale"):
            await gw.post("acme-alerts", Message(title="again"))


async def test_teams_pacer_keeps_each_conversation_under_teams_limits():
    clock = FrozenClock.at("2026-11-16T10:00:00+00:00")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    pacer = Pacer(now=clock.now, sleep=sleep)
    for _ in range(8):
        await pacer.wait("c1")
    assert slept == [1.0]  # the 8th send in a second waits for the 7-per-second window
    for _ in range(60):
        await pacer.wait("c1")
    sends = sorted(pacer._sent["c1"])
    for count, window in ((7, 1.0), (8, 2.0), (60, 30.0)):
        assert all(sends[i + count] - sends[i] >= window - 1e-9 for i in range(len(sends) - count))
    assert await pacer.wait("other") == 0.0  # limits are per conversation


def test_adaptive_cards_are_valid_and_under_28kb_for_every_kind():
    big = Message(title="Big", sections=tuple(Section(heading=f"S{i}", kpis=tuple(
        KpiRow("aht", "AHT " + "x" * 100, "5m", "≤ 6m", Status.OK, note="n" * 300) for _ in range(20)))
        for i in range(20)), actions=(Action(ActionId.SHARE_IN_CHANNEL, "Share", value="kpi"),))
    form = Form(FormId.ESCALATION_FILE, "File", fields=(
        FormField("severity", "Severity", FieldKind.SELECT, options=(Option("P1", "P1"),)),
        FormField("when", "When", FieldKind.DATE), FormField("n", "N", FieldKind.NUMBER, min_value=1),
        FormField("ok", "OK", FieldKind.CHECKBOX, required=False), FormField("t", "T", FieldKind.TEXTAREA)))
    for card in (render_card(breach_alert(VIEW)), render_card(help_message(commands(), registered=True)),
                 render_card(big), render_form(form)):
        assert problems(card) == [], problems(card)
        assert card["version"] == "1.5"
    assert "...and" in json.dumps(render_card(big))
    statuses = [c for c in render_card(breach_alert(VIEW))["body"] if c["type"] == "ColumnSet"]
    texts = json.dumps(statuses)
    assert '"color": "Attention"' in texts and "breach" in texts  # colour and words


def test_teams_package_has_manifest_icons_and_commands_matching_grammar(tmp_path):
    import io
    import zipfile

    from PIL import Image

    from adapters.cli import main

    out = tmp_path / "liaison-teams.zip"
    assert main(["manifest", "teams", "--out", str(out), "--app-id", "11111111-2222-3333-4444-555555555555",
                 "--host", "liaison.example.org"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        sizes = {name: Image.open(io.BytesIO(zf.read(name))).size for name in ("color.png", "outline.png")}
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    assert manifest["manifestVersion"] == "1.17" and manifest["validDomains"] == ["liaison.example.org"]
    bot = manifest["bots"][0]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert {c["title"] for c in bot["commandLists"][0]["commands"]} == {spec.verb for spec in commands()}


async def test_teams_endpoint_is_not_mounted_without_app_id_unless_explicitly_allowed(db, clock, connector):
    srv = TestServer(create_app(Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)),
                     host="127.0.0.1")
    await srv.start_server()
    try:
        assert await post(srv, activity(connector, text="kpi")) == 404
    finally:
        await srv.close()
    assert connector.calls == []
