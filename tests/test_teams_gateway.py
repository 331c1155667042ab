"""The Teams gateway: proactive posts and updates, DMs that open a personal chat, quick retries, stale references."""

from __future__ import annotations

import random

import pytest
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from sqlalchemy import select

from adapters.teams.auth import make_adapter
from adapters.teams.bot import LiaisonTeamsBot
from adapters.teams.gateway import TeamsGateway
from bot.core import Core
from bot.messages import Message
from bot.ports import DeliveryError
from bot.settings import Settings
from bot.store.conversations import ConversationRef, find_reference
from tests.fakes.bot_connector import FakeBotConnector, known_channel

CHANNEL = "19:acme-alerts@thread.tacv2"
LEAD = "00000000-0000-4000-8000-00000000c001"


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def teams_core(db, clock) -> Core:
    return Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)


@pytest.fixture
def make_gateway(teams_core):
    def make(*, adapter=None, retries: int = 2) -> tuple[TeamsGateway, list[float]]:  # noqa: ANN001
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        gateway = TeamsGateway(teams_core, adapter or make_adapter(teams_core.settings), sleep=sleep,
                               rng=random.Random(7), quick_retries=retries)
        return gateway, slept
    return make


async def store_channel(core: Core, service_url: str, *, key: str = CHANNEL, name: str = "acme-alerts") -> None:
    await known_channel(core, service_url, key=key, name=name)


def channel_message(text: str, *, user: str = LEAD, service_url: str = "https://smba.example/") -> Activity:
    return Activity(type=ActivityTypes.message, text=text, channel_id="msteams", service_url=service_url,
                    from_property=ChannelAccount(id=f"29:{user}-mri", aad_object_id=user),
                    recipient=ChannelAccount(id="28:bot"), channel_data={"tenant": {"id": "tenant-1"},
                                                                          "channel": {"name": "acme-alerts"}},
                    conversation=ConversationAccount(id=CHANNEL, conversation_type="channel"))


async def run_turn(core: Core, activity: Activity) -> TestAdapter:
    adapter = TestAdapter()
    bot = LiaisonTeamsBot(core)

    async def logic(context: TurnContext) -> None:
        await bot.on_turn(context)

    adapter.logic = logic
    await adapter.receive_activity(activity)
    return adapter


async def test_teams_gateway_under_test_adapter_posts_and_updates_proactively(teams_core, make_gateway):
    await store_channel(teams_core, "https://smba.example/")
    adapter = TestAdapter()
    gateway, _ = make_gateway(adapter=adapter)
    posted = await gateway.post("acme-alerts", Message(title="Service level breached"))
    await gateway.update(posted.ref, Message(title="Acknowledged by Lead"))
    [sent] = adapter.activity_buffer
    assert sent.conversation.id == CHANNEL and sent.attachments[0].content["version"] == "1.5"
    [updated] = adapter.updated_activities
    assert updated.id == posted.ref.split("|")[1] and "Acknowledged by Lead" in str(updated.attachments[0].content)


async def test_teams_gateway_send_direct_opens_personal_chat_once_from_member_seen_in_channel(
        teams_core, make_gateway, connector, make_user):
    await make_user(LEAD, role="client", platform="teams")
    await run_turn(teams_core, channel_message("help", service_url=connector.base_url))
    gateway, _ = make_gateway()
    first = await gateway.send_direct(LEAD, Message(title="Your escalation was acknowledged"))
    second = await gateway.send_direct(LEAD, Message(title="And resolved"))
    [create] = connector.of("create")
    assert create.activity["members"] == [{"id": f"29:{LEAD}-mri"}]
    # botbuilder spells it tenantID; the connector reads JSON keys case-insensitively
    assert create.activity["tenantID"] == "tenant-1" and create.activity["channelData"] == {"tenant": {"id": "tenant-1"}}
    assert create.activity["isGroup"] is False
    sends = connector.of("send") + connector.of("reply")
    assert [c.conversation for c in sends] == [create.conversation, create.conversation]
    assert first.ref.startswith(create.conversation + "|") and second.ref.startswith(create.conversation + "|")
    async with teams_core.db.session() as s:
        assert (await find_reference(s, f"user:{LEAD}")).key == create.conversation


async def test_teams_gateway_send_direct_to_user_never_seen_is_gone(teams_core, make_gateway):
    gateway, _ = make_gateway()
    with pytest.raises(DeliveryError, match="no Teams conversation 'user:nobody'") as info:
        await gateway.send_direct("nobody", Message(title="x"))
    assert info.value.gone and not info.value.retryable


async def test_teams_gateway_429_twice_retried_with_jittered_backoff_then_sent(teams_core, make_gateway, connector):
    await store_channel(teams_core, connector.base_url)
    gateway, slept = make_gateway()
    connector.fail_next(429)
    connector.fail_next(429, retry_after=2)
    await gateway.post("acme-alerts", Message(title="x"))
    assert len(connector.calls) == 1
    assert 1.0 <= slept[0] <= 1.5 and 2.0 <= slept[1] <= 3.0  # 1 s then Retry-After 2 s, each plus jitter


async def test_teams_gateway_long_retry_after_and_502_go_back_to_outbox_without_waiting(
        teams_core, make_gateway, connector):
    await store_channel(teams_core, connector.base_url)
    gateway, slept = make_gateway()
    connector.fail_next(429, retry_after=30)
    with pytest.raises(DeliveryError) as info:
        await gateway.post("acme-alerts", Message(title="x"))
    assert (info.value.retryable, info.value.retry_after) == (True, 30.0)
    connector.fail_next(502)  # may have been delivered: the outbox decides, not a blind repeat
    with pytest.raises(DeliveryError) as info:
        await gateway.post("acme-alerts", Message(title="x"))
    assert info.value.retryable and slept == [] and connector.calls == []


async def test_teams_gateway_429_past_quick_retries_is_retryable_for_outbox(teams_core, make_gateway, connector):
    await store_channel(teams_core, connector.base_url)
    gateway, slept = make_gateway(retries=1)
    connector.fail_next(412)
    connector.fail_next(412)
    with pytest.raises(DeliveryError) as info:
        await gateway.post("acme-alerts", Message(title="x"))
    assert info.value.retryable and not info.value.gone and len(slept) == 1


@pytest.mark.parametrize("status", [403, 404])
async def test_teams_gateway_update_on_removed_conversation_marks_it_stale(teams_core, make_gateway, connector,
                                                                           status):
    await store_channel(teams_core, connector.base_url)
    gateway, _ = make_gateway()
    connector.fail_next(status)
    with pytest.raises(DeliveryError) as info:
        await gateway.update(f"{CHANNEL}|act-9", Message(title="x"))
    assert info.value.gone
    async with teams_core.db.session() as s:
        row = await find_reference(s, CHANNEL)
    assert row.stale and f"HTTP {status}" in row.stale_reason and row.stale_at == teams_core.clock.now()


async def test_teams_bot_removed_from_team_marks_reference_stale_and_reinstall_revives_it(teams_core):
    await store_channel(teams_core, "https://smba.example/")
    removal = Activity(type=ActivityTypes.conversation_update, channel_id="msteams",
                       service_url="https://smba.example/", recipient=ChannelAccount(id="28:bot"),
                       from_property=ChannelAccount(id="29:admin"), members_removed=[ChannelAccount(id="28:bot")],
                       conversation=ConversationAccount(id=CHANNEL, conversation_type="channel"))
    adapter = await run_turn(teams_core, removal)
    assert adapter.activity_buffer == []
    async with teams_core.db.session() as s:
        row = await find_reference(s, "acme-alerts")
    assert row.stale and "removed" in row.stale_reason
    uninstall = Activity(type=ActivityTypes.installation_update, action="remove", channel_id="msteams",
                         service_url="https://smba.example/", recipient=ChannelAccount(id="28:bot"),
                         conversation=ConversationAccount(id="a:personal-lead", conversation_type="personal"))
    await run_turn(teams_core, uninstall)  # nothing stored for it: nothing to mark, nothing to fail
    reinstall = Activity(type=ActivityTypes.installation_update, action="add", channel_id="msteams",
                         service_url="https://smba.example/", recipient=ChannelAccount(id="28:bot"),
                         from_property=ChannelAccount(id="29:admin"),
                         conversation=ConversationAccount(id=CHANNEL, conversation_type="channel"))
    await run_turn(teams_core, reinstall)
    async with teams_core.db.session() as s:
        rows = (await s.execute(select(ConversationRef))).scalars().all()
    assert [(r.key, r.name, r.stale) for r in rows] == [(CHANNEL, "acme-alerts", False)]


async def test_teams_personal_install_answers_with_home_listing_stale_conversations_for_admins(
        teams_core, make_user):
    await make_user("aad-admin", role="admin", platform="teams")
    await make_user(LEAD, role="client", platform="teams")
    await store_channel(teams_core, "https://smba.example/")
    async with teams_core.db.transaction() as s:
        from bot.store.conversations import mark_stale

        await mark_stale(s, "acme-alerts", reason="HTTP 403: bot removed or no access", now=teams_core.clock.now())

    def install(user: str) -> Activity:
        return Activity(type=ActivityTypes.installation_update, action="add", channel_id="msteams",
                        service_url="https://smba.example/", recipient=ChannelAccount(id="28:bot"),
                        from_property=ChannelAccount(id=f"29:{user}", aad_object_id=user),
                        conversation=ConversationAccount(id=f"a:{user}", conversation_type="personal"))

    [admin_home] = (await run_turn(teams_core, install("aad-admin"))).activity_buffer
    [lead_home] = (await run_turn(teams_core, install(LEAD))).activity_buffer
    admin_text = str(admin_home.attachments[0].content)
    assert "Teams conversations Liaison can no longer post to" in admin_text
    assert "acme-alerts: HTTP 403: bot removed or no access" in admin_text and "teams refs --stale" in admin_text
    assert "can no longer post to" not in str(lead_home.attachments[0].content)
    channel_install = Activity(type=ActivityTypes.installation_update, action="add", channel_id="msteams",
                               service_url="https://smba.example/", recipient=ChannelAccount(id="28:bot"),
                               from_property=ChannelAccount(id="29:x", aad_object_id="aad-admin"),
                               conversation=ConversationAccount(id=CHANNEL, conversation_type="channel"))
    assert (await run_turn(teams_core, channel_install)).activity_buffer == []  # quiet in a team


async def test_teams_message_in_channel_thread_stores_the_channel_not_the_thread(teams_core, make_user):
    await make_user(LEAD, role="client", platform="teams")
    in_thread = channel_message("help")
    in_thread.conversation = ConversationAccount(id=f"{CHANNEL};messageid=1700000000000", conversation_type="channel")
    in_thread.id = "1700000000999"
    await run_turn(teams_core, in_thread)
    async with teams_core.db.session() as s:
        row = await find_reference(s, "acme-alerts")
        member = await find_reference(s, f"member:{LEAD}")
    assert row.key == CHANNEL and row.reference["conversation"]["id"] == CHANNEL
    assert row.reference.get("activityId") is None  # proactive posts start new messages, not replies
    assert member.platform == "teams-member" and member.reference["user"]["id"] == f"29:{LEAD}-mri"
