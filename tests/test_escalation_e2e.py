"""Issue 6, done: one escalation filed in Slack climbs the levels on time, is acknowledged and resolved in Teams.

One world, both platforms, every hop real: signed Slack requests into the aiohttp app (real Bolt and
slack_sdk against the fake Web API), Teams activities into /api/messages (real botbuilder against the
fake Bot Connector), the outbox delivered by the real Slack and Teams gateways, the timers job on the
injected clock. The example config's acme policy applies: L1 acme-tl -> L2 acme-am + #acme-escalations
-> L3 lead -> L4 cx-head + #cx-escalations, in Europe/Warsaw business hours.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select

from adapters.http import create_app
from adapters.slack.gateway import gateway_from_core as slack_gateway
from adapters.teams.gateway import gateway_from_core as teams_gateway
from bot.core import Core
from bot.services.delivery import deliver_all
from bot.settings import Settings
from bot.store.escalations import Escalation, EscalationEvent
from jobs import escalation_timers
from tests.escalation_world import make_world
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.clock import FrozenClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_requests import block_action, sign, slash_command, view_submission

SECRET = "e2e-signing-secret-0123456789abcdef"
LEAD_AAD = "00000000-0000-4000-8000-00000000c001"
# the acme path's people have the Teams app in their personal chat, as after installing it
TEAMS_PEOPLE = {"acme-tl": "00000000-0000-4000-8000-00000000a001", "acme-am": "00000000-0000-4000-8000-00000000a002",
                "lead": LEAD_AAD, "cx-head": "00000000-0000-4000-8000-00000000c002"}
TEAMS_ESC = "19:acme-escalations@thread.tacv2"
TEAMS_CX = "19:cx-escalations@thread.tacv2"
TITLE = "Kraków voice SL <b>&</b> queue at 40%"


async def no_sleep(_seconds: float) -> None:
    return None


class E2E:
    """The app, both fakes and the clock, with the few moves the test makes."""

    def __init__(self, core: Core, server: TestServer, slack: FakeSlackApi, teams: FakeBotConnector,
                 clock: FrozenClock) -> None:
        self.core, self.server, self.slack, self.teams, self.clock = core, server, slack, teams, clock
        self._n = 0

    async def slack_post(self, body: str, ctype: str) -> tuple[int, str]:
        headers = {"Content-Type": ctype, **sign(SECRET, body)}
        async with aiohttp.ClientSession() as http, \
                http.post(self.server.make_url("/slack/events"), data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def slash(self, text: str, *, user: str) -> dict:
        """Send a signed /escalate and return what the user was answered (via response_url)."""
        self._n += 1
        before = len(self.slack.responses)
        body, ctype = slash_command("/escalate", text, user=user, response_url=self.slack.response_url(f"r{self._n}"),
                                    trigger_id=f"T-{self._n}")
        status, _ = await self.slack_post(body, ctype)
        assert status == 200
        await self.slack.wait_for(lambda f: len(f.responses) > before)
        return self.slack.responses[-1]

    async def teams_install(self, user: str) -> None:
        """The user opens their personal chat with the bot (Teams sends conversationUpdate)."""
        act = {"type": "conversationUpdate", "id": f"install-{user}", "channelId": "msteams",
               "serviceUrl": self.teams.base_url, "from": {"id": f"29:{user}", "aadObjectId": user},
               "recipient": {"id": "28:bot", "name": "Liaison"}, "membersAdded": [{"id": "28:bot"}],
               "conversation": {"id": f"a:{user}", "conversationType": "personal", "tenantId": "tenant-1"},
               "channelData": {"tenant": {"id": "tenant-1"}}}
        async with aiohttp.ClientSession() as http, \
                http.post(self.server.make_url("/api/messages"), json=act) as resp:
            assert resp.status in (200, 201), await resp.text()

    async def teams_post(self, value: dict, *, user: str, conversation: str, reply_to: str) -> None:
        self._n += 1
        act = {"type": "message", "id": f"in-{self._n}", "channelId": "msteams", "serviceUrl": self.teams.base_url,
               "from": {"id": f"29:{user}", "aadObjectId": user}, "recipient": {"id": "28:bot", "name": "Liaison"},
               "text": "", "value": value, "replyToId": reply_to,
               "conversation": {"id": conversation, "conversationType": "channel", "tenantId": "tenant-1"},
               "channelData": {"tenant": {"id": "tenant-1"}, "channel": {"id": conversation}}}
        async with aiohttp.ClientSession() as http, \
                http.post(self.server.make_url("/api/messages"), json=act) as resp:
            assert resp.status in (200, 201), await resp.text()

    async def deliver(self) -> None:
        report = await deliver_all(self.core, {"slack": slack_gateway(self.core), "teams": teams_gateway(self.core)},
                                   rng=random.Random(1), sleep=no_sleep)
        assert report.dead == 0, report.errors

    async def tick(self) -> escalation_timers.TimerRun:
        """Run the timers job at the clock's now and deliver what it queued."""
        run = await escalation_timers.run(self.core)
        await self.deliver()
        return run

    async def escalation(self) -> Escalation:
        async with self.core.db.session() as s:
            return (await s.execute(select(Escalation))).scalars().one()

    async def events(self) -> list[EscalationEvent]:
        async with self.core.db.session() as s:
            return list((await s.execute(select(EscalationEvent).order_by(EscalationEvent.id))).scalars())


@pytest.fixture
async def e2e(db, clock):
    await make_world(db)
    slack, teams = FakeSlackApi(), FakeBotConnector()
    await slack.start()
    await teams.start()
    settings = Settings(_env_file=None, database_url=db.url, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=slack.base_url + "api/",
                        teams_allow_unauthenticated=True)
    core = Core(db=db, settings=settings, clock=clock)
    await known_channel(core, teams.base_url, key=TEAMS_ESC, name="acme-escalations")
    await known_channel(core, teams.base_url, key=TEAMS_CX, name="cx-escalations")
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    e = E2E(core, server, slack, teams, clock)
    for aad in TEAMS_PEOPLE.values():
        await e.teams_install(aad)
    try:
        yield e
    finally:
        await server.close()
        await teams.stop()
        await slack.stop()


def slack_values(**typed: str) -> dict:
    """The modal's state.values as Slack sends them: block id -> action id -> element state."""
    out: dict = {}
    for key, value in typed.items():
        if key in ("severity", "category", "partner"):
            out[key] = {key: {"type": "static_select", "selected_option": {"value": value}}}
        else:
            out[key] = {key: {"type": "plain_text_input", "value": value}}
    return out


async def file_in_slack(e: E2E, *, severity: str, title: str = TITLE) -> str:
    """acme-tl runs a signed /escalate, the modal opens, a signed view_submission files; returns ESC-n."""
    opened = len(e.slack.of("views.open"))
    body, ctype = slash_command("/escalate", "", user="U0ACME1", response_url=e.slack.response_url("file"),
                                trigger_id=f"T-file-{opened}")
    assert (await e.slack_post(body, ctype))[0] == 200
    await e.slack.wait_for(lambda f: len(f.of("views.open")) > opened)
    call = e.slack.of("views.open")[-1].body
    assert call["trigger_id"] == f"T-file-{opened}"
    view = call["view"]
    assert view["callback_id"] == "escalation_file"
    assert json.loads(view["private_metadata"])["fixed"] == {"partner": "acme"}  # a partner user files for their own
    posted = len(e.slack.of("chat.postMessage"))
    values = slack_values(severity=severity, category="sla_performance", title=title,
                          description="Voice SL at 40% since 09:00; 12 agents out sick")
    body, ctype = view_submission(view["callback_id"], values, user="U0ACME1", private_metadata=view["private_metadata"])
    status, text = await e.slack_post(body, ctype)
    assert (status, text) == (200, "")  # the modal closes
    await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) > posted)
    confirmation = e.slack.of("chat.postMessage")[-1].body
    assert confirmation["channel"] == "U0ACME1" and confirmation["text"].startswith("Filed ESC-")
    return confirmation["text"].split(":", 1)[0].removeprefix("Filed ")


def dms_since(e: E2E, start: int) -> list[str]:
    """Slack DM channels (D + user id) posted to since call ``start``."""
    return [c.body["channel"] for c in e.slack.calls[start:]
            if c.method == "chat.postMessage" and str(c.body.get("channel", "")).startswith("DU")]


async def climb(e: E2E, until: datetime, step: timedelta = timedelta(minutes=5)) -> list[tuple[str, str, tuple]]:
    """Tick the timers every ``step`` until ``until``; return (UTC HH:MM, what, Slack DMs) per tick that did something."""
    seen = []
    while e.clock.now() < until:
        e.clock.advance(step)
        start = len(e.slack.calls)
        run = await e.tick()
        for ref in run.escalated:
            seen.append((f"{e.clock.now():%a %H:%M}", f"escalated {ref} to L{(await e.escalation()).level + 1}",
                         tuple(sorted(dms_since(e, start)))))  # DMs to different people go in parallel
        for ref in run.reminded:
            seen.append((f"{e.clock.now():%a %H:%M}", f"reminded {ref}", tuple(sorted(dms_since(e, start)))))
        for ref in run.closed:
            seen.append((f"{e.clock.now():%a %H:%M}", f"closed {ref}", ()))
    return seen


def teams_card_post(e: E2E) -> tuple[str, dict]:
    """The escalation card as posted to acme's Teams channel: its activity id and its latest content."""
    posted = next(c for c in e.teams.calls if c.conversation == TEAMS_ESC and c.verb in ("send", "reply")
                  and "Needs your attention" not in json.dumps(c.activity))
    latest = [c for c in e.teams.of("update") if c.activity_id == posted.response_id] or [posted]
    return posted.response_id, latest[-1].activity["attachments"][0]["content"]


def card_button(card: dict, action: str) -> dict:
    return next(a["data"] for a in card["actions"] if a["data"]["action"] == action)


async def test_filed_in_slack_climbs_on_time_acknowledged_and_resolved_in_teams(e2e):
    e = e2e
    # Monday 16 Nov 2026 10:00 UTC = 11:00 in Warsaw: business hours
    ref = await file_in_slack(e, severity="P2")
    assert ref == "ESC-1"
    start = len(e.slack.calls)
    await e.deliver()
    # the card in acme's Slack escalation channel, the title escaped for mrkdwn
    card_post = next(c.body for c in e.slack.calls[start:]
                     if c.method == "chat.postMessage" and c.body["channel"] == "C0ACMEESC")
    raw = json.dumps(card_post)
    assert "ESC-1" in raw and "&lt;b&gt;&amp;&lt;/b&gt;" in raw and "<b>" not in raw
    # ... and in its Teams channel, with the buttons the lead will press
    card_id, card = teams_card_post(e)
    assert TITLE in json.dumps(card, ensure_ascii=False)
    assert {a["data"]["action"] for a in card["actions"]} >= {"escalation_acknowledge", "escalation_escalate_now"}
    # L1 (acme-tl) is asked first, on Slack and in Teams
    assert "DU0ACME1" in dms_since(e, start)

    # nobody acknowledges: the timers climb exactly when the P2 waits say
    timeline = await climb(e, datetime(2026, 11, 16, 16, 0, tzinfo=UTC))
    assert timeline == [
        ("Mon 10:10", "reminded ESC-1", ("DU0ACME1",)),  # L1 repeat_every 10m (the filer hears of changes only)
        ("Mon 10:20", "reminded ESC-1", ("DU0ACME1",)),
        ("Mon 10:30", "escalated ESC-1 to L2", ("DU0ACME1", "DU0ACME2")),  # 30m: the account manager
        ("Mon 11:30", "escalated ESC-1 to L3", ("DU0ACME1", "DU0LEAD")),  # then 1h: the client lead
        ("Mon 15:30", "escalated ESC-1 to L4", ("DU0ACME1", "DU0CXHEAD")),  # then 4h: head of CX
    ]
    lead_dm = next(c.body["text"] for c in e.slack.of("chat.postMessage") if c.body["channel"] == "DU0LEAD")
    assert lead_dm.startswith("Needs your attention: ESC-1")
    # L2's channel was told too, in the card's thread
    assert any(c.body["channel"] == "C0ACMEESC" and c.body.get("thread_ts") and "L2" in json.dumps(c.body)
               for c in e.slack.of("chat.postMessage"))
    # the lead's Teams personal chat got the L3 notice as well
    assert any(c.conversation == f"a:{LEAD_AAD}" for c in e.teams.calls)

    # the client lead acknowledges in Teams, pressing the button of the card Teams shows
    card_id, card = teams_card_post(e)
    updates = len(e.teams.of("update"))
    slack_mark = len(e.slack.calls)
    await e.teams_post(card_button(card, "escalation_acknowledge"), user=LEAD_AAD, conversation=TEAMS_ESC,
                       reply_to=card_id)
    esc = await e.escalation()
    assert esc.status == "acknowledged" and esc.level == 3
    assert [c.activity_id for c in e.teams.of("update")[updates:]][:1] == [card_id]  # edited in place
    await e.deliver()
    updated = [c.body for c in e.slack.calls[slack_mark:] if c.method == "chat.update"]
    assert updated and updated[0]["channel"] == "C0ACMEESC" and "Acknowledged" in json.dumps(updated[0])
    filer_told = [c.body["text"] for c in e.slack.calls[slack_mark:]
                  if c.method == "chat.postMessage" and c.body["channel"] == "DU0ACME1"]
    assert filer_told and "acknowledged" in filer_told[0].lower()

    # climbing stops: hours later nothing more is sent
    quiet_mark = len(e.slack.calls)
    assert await climb(e, datetime(2026, 11, 17, 10, 0, tzinfo=UTC), step=timedelta(minutes=30)) == []
    assert dms_since(e, quiet_mark) == []

    # Resolve opens the card form; an empty note is refused with the field's error, nothing changes
    card_id, card = teams_card_post(e)
    replies = len(e.teams.of("reply"))
    await e.teams_post(card_button(card, "escalation_resolve"), user=LEAD_AAD, conversation=TEAMS_ESC,
                       reply_to=card_id)
    form = e.teams.cards("reply")[-1]
    assert len(e.teams.of("reply")) > replies
    submit = next(a["data"] for a in form["actions"] if a.get("data", {}).get("form") == "escalation_resolve_form")
    events_before = len(await e.events())
    await e.teams_post(dict(submit, note="  "), user=LEAD_AAD, conversation=TEAMS_ESC, reply_to=card_id)
    refused = json.dumps(e.teams.cards()[-1], ensure_ascii=False)
    assert "resolution note is required" in refused
    assert (await e.escalation()).status == "acknowledged" and len(await e.events()) == events_before
    note = "Overflow routed to Lisbon; SL back at 82% by 14:00 <ok>"
    await e.teams_post(dict(submit, note=note), user=LEAD_AAD, conversation=TEAMS_ESC, reply_to=card_id)
    esc = await e.escalation()
    assert esc.status == "resolved"
    slack_mark = len(e.slack.calls)
    await e.deliver()
    # the history goes in the card's thread in Slack, the note escaped
    thread = [c.body for c in e.slack.calls[slack_mark:]
              if c.method == "chat.postMessage" and c.body["channel"] == "C0ACMEESC" and c.body.get("thread_ts")]
    assert thread and "SL back at 82% by 14:00 &lt;ok&gt;" in json.dumps(thread)

    # the audit trail, through a signed Slack slash command by the filer
    shown = await e.slash("show ESC-1", user="U0ACME1")
    trail = json.dumps(shown, ensure_ascii=False)
    for step in ("Tomasz Nowak", "Lena Lead", "SL back at 82% by 14:00 &lt;ok&gt;"):
        assert step in trail, step
    # another partner's user is refused, by command and by forged buttons, and nothing changes
    refused = await e.slash("show ESC-1", user="U0NORTH1")
    assert refused["text"] == "Not allowed: There is no escalation ESC-1 that you can see."
    assert "Kraków" not in json.dumps(refused, ensure_ascii=False)
    events_before = len(await e.events())
    for action in ("escalation_reopen", "escalation_resolve", "escalation_acknowledge"):
        n = len(e.slack.responses)
        body, ctype = block_action(action, "escalation:1", user="U0NORTH1", response_url=e.slack.response_url(action),
                                   channel="C0ACMEESC")
        assert (await e.slack_post(body, ctype))[0] == 200
        await e.slack.wait_for(lambda f, n=n: len(f.responses) > n)
        assert e.slack.responses[-1].get("replace_original") is False  # the card is not touched
        assert e.slack.responses[-1]["text"] == "Not allowed: There is no escalation ESC-1 that you can see."
    assert [c.body["trigger_id"] for c in e.slack.of("views.open")] == ["T-file-0"]  # no form opened for them
    assert (await e.escalation()).status == "resolved" and len(await e.events()) == events_before

    # seven days after resolving, the timers close it
    resolved_at = e.clock.now()
    e.clock.set(resolved_at + timedelta(days=7) - timedelta(minutes=1))
    assert (await e.tick()).closed == ()
    e.clock.advance(minutes=1)
    assert (await e.tick()).closed == ("ESC-1",)
    assert (await e.escalation()).status == "closed"


async def test_p2_filed_late_evening_waits_for_warsaw_business_hours(e2e):
    e = e2e
    # Monday 21:30 in Warsaw (20:30 UTC): outside business hours (08:00-18:00) and near quiet hours
    e.clock.set(datetime(2026, 11, 16, 20, 30, tzinfo=UTC))
    assert await file_in_slack(e, severity="P2") == "ESC-1"
    start = len(e.slack.calls)
    await e.deliver()
    texts = [c.body["text"] for c in e.slack.calls[start:] if c.method == "chat.postMessage"
             and c.body["channel"].startswith("DU")]
    assert texts == []  # no L1 notice at night; the filer's confirmation is the form's own answer
    assert any(c.body["channel"] == "U0ACME1" and c.body["text"].startswith("Filed ESC-1")
               for c in e.slack.of("chat.postMessage"))
    assert any(c.body["channel"] == "C0ACMEESC" for c in e.slack.of("chat.postMessage"))
    mark = len(e.slack.calls)
    timeline = await climb(e, datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    # Tuesday 08:00 Warsaw (07:00 UTC): L1 is told then, and its 30 minutes start then
    assert timeline == [
        ("Tue 07:00", "reminded ESC-1", ("DU0ACME1",)),  # the held first notice
        ("Tue 07:10", "reminded ESC-1", ("DU0ACME1",)),
        ("Tue 07:20", "reminded ESC-1", ("DU0ACME1",)),
        ("Tue 07:30", "escalated ESC-1 to L2", ("DU0ACME1", "DU0ACME2")),
    ]
    first = next(c.body["text"] for c in e.slack.calls[mark:]
                 if c.method == "chat.postMessage" and c.body["channel"] == "DU0ACME1")
    assert first.startswith("Needs your attention: ESC-1")  # a held first message is not a reminder


async def test_p1_at_night_does_not_wait(e2e):
    e = e2e
    # Tuesday 02:00 in Warsaw (01:00 UTC), in quiet hours: a P1 goes out and climbs at once
    e.clock.set(datetime(2026, 11, 17, 1, 0, tzinfo=UTC))
    assert await file_in_slack(e, severity="P1") == "ESC-1"
    start = len(e.slack.calls)
    await e.deliver()
    assert "DU0ACME1" in dms_since(e, start)
    timeline = await climb(e, datetime(2026, 11, 17, 3, 0, tzinfo=UTC))
    # P1 waits: 15m, 30m, 1h; quiet hours (22:00-07:00) do not apply
    assert timeline == [
        ("Tue 01:10", "reminded ESC-1", ("DU0ACME1",)),
        ("Tue 01:15", "escalated ESC-1 to L2", ("DU0ACME1", "DU0ACME2")),
        ("Tue 01:45", "escalated ESC-1 to L3", ("DU0ACME1", "DU0LEAD")),
        ("Tue 02:45", "escalated ESC-1 to L4", ("DU0ACME1", "DU0CXHEAD")),
    ]


async def test_slack_form_whose_handler_fails_answers_in_the_modal_with_a_logged_reference(e2e, caplog):
    e = e2e
    # a view_submission whose state Liaison cannot read (an element that is not an object) makes the handler raise
    body, ctype = view_submission("escalation_file", {"title": {"title": "not an element"}}, user="U0ACME1",
                                  private_metadata=json.dumps({"state": "", "fixed": {"partner": "acme"}}))
    with caplog.at_level("ERROR", logger="adapters.slack.app"):
        status, text = await e.slack_post(body, ctype)
    assert status == 200
    answer = json.loads(text)
    assert answer["response_action"] == "update"  # the modal shows the failure instead of Slack's bare error
    shown = json.dumps(answer["view"])
    assert "Something went wrong on our side" in shown and "Nothing was changed" in shown
    reference = shown.split("this reference: ")[1][:8]
    assert any(f"ref {reference}" in r.getMessage() and r.exc_info for r in caplog.records)
    async with e.core.db.session() as s:
        assert (await s.execute(select(Escalation))).first() is None
