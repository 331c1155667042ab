# ruff: noqa: F811  (the e2e fixture is imported from the escalation end-to-end test and used by name)
"""Issue 13, security: replays act once, forged form state is refused, nothing reveals another partner.

Every request is a real signed Slack request (or a Teams activity) into the aiohttp app, answered by real
Bolt/botbuilder against the fake Slack Web API and Bot Connector; effects are counted in the database and
in the fakes' logs. The matrix: client (lead, with data_protection), partner A (acme-tl, without), partner A
with data_protection (acme-am, granted here), partner B (globex-tl), admin, an unknown user.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.services import escalations as service
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Partner, Target, User
from tests.escalation_world import make_world
from tests.fakes.slack_requests import block_action, sign, slash_command, view_submission
from tests.hardening_counts import record
from tests.test_escalation_e2e import E2E, SECRET, e2e, slack_values  # noqa: F401  (e2e is the fixture)

SLACK_IDS = {"admin": "U0ADMIN", "lead": "U0LEAD", "acme-tl": "U0ACME1", "acme-am": "U0ACME2",
             "globex-tl": "U0GLOBEX1", "unknown": "U0STRANGER"}


async def post_raw(e: E2E, body: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, \
            http.post(e.server.make_url("/slack/events"), data=body.encode(), headers=headers) as resp:
        return resp.status, await resp.text()


async def escalation_count(e: E2E) -> int:
    async with e.core.db.session() as s:
        return (await s.execute(select(func.count()).select_from(Escalation))).scalar_one()


async def settle(e: E2E) -> None:
    # Bolt answers a command after its ack, in the background: give a second answer time to show up
    await asyncio.sleep(0.4)


def file_values(title: str = "Queue at 40%") -> dict:
    return slack_values(severity="P2", category="sla_performance", title=title, description="since 09:00")


ACME_META = json.dumps({"state": "", "fixed": {"partner": "acme"}})


async def ask(e: E2E, who: str, command: str, text: str) -> str:
    """Send a signed slash command as ``who`` and return the text Slack was answered."""
    before = len(e.slack.responses)
    body, ctype = slash_command(command, text, user=SLACK_IDS[who], response_url=e.slack.response_url(who))
    status, _ = await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)})
    assert status == 200
    await e.slack.wait_for(lambda f: len(f.responses) > before)
    return json.dumps(e.slack.responses[-1])


# ---- replays ----------------------------------------------------------------------------------

async def test_replayed_signed_requests_act_once(e2e: E2E):
    e = e2e
    tried = acted_once = 0
    # a view_submission captured and sent again inside the signature window
    body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1", private_metadata=ACME_META)
    headers = {"Content-Type": ctype, **sign(SECRET, body)}
    for _ in range(3):
        assert (await post_raw(e, body, headers))[0] == 200
    await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) >= 1)
    await settle(e)
    tried += 1
    assert await escalation_count(e) == 1
    assert len([c for c in e.slack.of("chat.postMessage") if c.body["text"].startswith("Filed ESC-")]) == 1
    acted_once += 1
    # a slash command replayed: one answer on the response_url
    body, ctype = slash_command("/kpi", "acme", user="U0LEAD", response_url=e.slack.response_url("kpi"))
    headers = {"Content-Type": ctype, **sign(SECRET, body)}
    before = len(e.slack.responses)
    for _ in range(3):
        assert (await post_raw(e, body, headers))[0] == 200
    await e.slack.wait_for(lambda f: len(f.responses) > before)
    await settle(e)
    tried += 1
    assert len(e.slack.responses) == before + 1
    acted_once += 1
    # a note form on the filed escalation, replayed: one note event
    esc = (await e.escalation())
    note_meta = json.dumps({"state": f"escalation:{esc.id}", "fixed": {}})
    body, ctype = view_submission("escalation_note_form", {"note": {"note": {"type": "plain_text_input", "value": "hi"}}},
                                  user="U0ACME1", private_metadata=note_meta)
    headers = {"Content-Type": ctype, **sign(SECRET, body)}
    for _ in range(2):
        assert (await post_raw(e, body, headers))[0] == 200
    await settle(e)
    tried += 1
    notes = [ev for ev in await e.events() if ev.kind == "note"]
    assert len(notes) == 1
    acted_once += 1
    # a button press replayed: one answer
    body, ctype = block_action("escalation_acknowledge", f"escalation:{esc.id}", user="U0ACME1",
                               response_url=e.slack.response_url("ack"))
    headers = {"Content-Type": ctype, **sign(SECRET, body)}
    before_events = len(await e.events())
    for _ in range(2):
        assert (await post_raw(e, body, headers))[0] == 200
    await settle(e)
    tried += 1
    assert len(await e.events()) - before_events <= 1
    acted_once += 1
    print(f"replays tried {tried}, acted once {acted_once}")
    assert (tried, acted_once) == (4, 4)
    record("replays", tried=tried, acted_once=acted_once)


async def inbound_rows(e: E2E) -> int:
    from bot.store.inbound_events import InboundEvent

    async with e.core.db.session() as s:
        return (await s.execute(select(func.count()).select_from(InboundEvent))).scalar_one()


async def test_request_fingerprints_are_pruned_after_a_day_and_not_before(e2e: E2E):
    from jobs import housekeeping

    e = e2e
    body, ctype = slash_command("/kpi", "acme", user="U0LEAD", response_url=e.slack.response_url("kpi"))
    headers = {"Content-Type": ctype, **sign(SECRET, body)}
    assert (await post_raw(e, body, headers))[0] == 200
    await e.slack.wait_for(lambda f: len(f.responses) == 1)
    kept = await inbound_rows(e)
    assert kept >= 1
    # well past the 5-minute signature window but inside the day kept: the row stays, a replay does nothing
    e.clock.advance(hours=23, minutes=59)
    assert await housekeeping.run(e.core) == 0
    assert await inbound_rows(e) == kept
    assert (await post_raw(e, body, headers))[0] == 200
    await settle(e)
    assert len(e.slack.responses) == 1
    record("replays", tried=1, acted_once=1)
    # a newer request is kept when the older ones go
    body2, ctype2 = slash_command("/kpi", "globex", user="U0LEAD", response_url=e.slack.response_url("kpi2"))
    assert (await post_raw(e, body2, {"Content-Type": ctype2, **sign(SECRET, body2)}))[0] == 200
    await e.slack.wait_for(lambda f: len(f.responses) == 2)
    e.clock.advance(minutes=2)
    assert await housekeeping.run(e.core) == kept
    assert await inbound_rows(e) == 1
    e.clock.advance(days=1)
    assert await housekeeping.run(e.core) == 1
    assert await inbound_rows(e) == 0


async def test_double_click_and_client_retry_of_one_form_act_once(e2e: E2E):
    e = e2e
    # two distinct requests (their own trigger ids and signatures) for the same modal and values
    for _ in range(2):
        body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1",
                                      private_metadata=ACME_META, view_id="V-double")
        assert (await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)}))[0] == 200
    await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) >= 2)
    assert await escalation_count(e) == 1
    texts = [c.body["text"] for c in e.slack.of("chat.postMessage")]
    assert sum(t.startswith("Filed ESC-") for t in texts) == 1 and any("Already saved" in t for t in texts)
    record("replays", tried=1, acted_once=1)


async def test_a_form_sent_back_with_errors_goes_through_once_corrected(e2e: E2E):
    e = e2e
    body, ctype = view_submission("escalation_file", file_values(title=""), user="U0ACME1",
                                  private_metadata=ACME_META, view_id="V-fix")
    status, text = await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)})
    assert status == 200 and json.loads(text)["response_action"] == "errors"
    body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1",
                                  private_metadata=ACME_META, view_id="V-fix")
    assert (await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)})) == (200, "")
    assert await escalation_count(e) == 1


async def test_teams_activity_replayed_acts_once(e2e: E2E):
    e = e2e
    act = {"type": "message", "id": "replayed-1", "channelId": "msteams", "serviceUrl": e.teams.base_url,
           "from": {"id": "29:x", "aadObjectId": "00000000-0000-4000-8000-00000000c001"},
           "recipient": {"id": "28:bot", "name": "Liaison"}, "text": "kpi acme",
           "conversation": {"id": "a:lead", "conversationType": "personal", "tenantId": "tenant-1"},
           "channelData": {"tenant": {"id": "tenant-1"}}}
    before = len(e.teams.of("reply")) + len(e.teams.of("send"))
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(e.server.make_url("/api/messages"), json=act) as resp:
                assert resp.status in (200, 201)
    assert len(e.teams.of("reply")) + len(e.teams.of("send")) == before + 1
    record("replays", tried=1, acted_once=1)


# ---- forged requests --------------------------------------------------------------------------

async def test_forged_and_malformed_signatures_are_401_with_no_side_effect(e2e: E2E):
    e = e2e
    body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1", private_metadata=ACME_META)
    good = sign(SECRET, body)
    forged = [
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "\u0661\u0667\u0660\u0660", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": good["X-Slack-Signature"]},
        {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        sign("wrong-secret", body),
        sign(SECRET, body, timestamp=1_000_000_000),  # stale
        {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]},
    ]
    statuses = [(await post_raw(e, body, {"Content-Type": ctype, **h}))[0] for h in forged]
    altered = body.replace("Queue", "Qveue")
    statuses.append((await post_raw(e, altered, {"Content-Type": ctype, **good}))[0])
    print(f"forged tried {len(statuses)}, rejected {statuses.count(401)}")
    assert statuses == [401] * len(statuses)
    assert await escalation_count(e) == 0 and not e.slack.calls
    record("forged", tried=len(statuses), rejected=statuses.count(401))


async def test_forged_breach_state_of_another_partner_is_refused(e2e: E2E):
    e = e2e
    async with e.core.db.transaction() as s:
        partners = {p.slug: p for p in (await s.execute(select(Partner))).scalars()}
        targets = {t.partner_id: t for t in (await s.execute(select(Target))).scalars() if t.partner_id}
        now = e.clock.now()
        breaches = {}
        for slug in ("acme", "globex"):
            b = BreachEpisode(target_id=targets[partners[slug].id].id, partner_id=partners[slug].id, opened_at=now,
                              last_violating_start=now, last_violating_end=now, worst_value=1, last_value=1,
                              created_at=now)
            s.add(b)
            await s.flush()
            breaches[slug] = b.id
    forged = json.dumps({"state": f"breach:{breaches['globex']}", "fixed": {"partner": "acme"}})
    body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1", private_metadata=forged)
    assert (await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)}))[0] == 200
    await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) >= 1)
    assert await escalation_count(e) == 0
    answer = e.slack.of("chat.postMessage")[-1].body["text"]
    assert "not one you can link" in answer and "Globex" not in answer
    # the honest form from acme's own breach links it
    honest = json.dumps({"state": f"breach:{breaches['acme']}", "fixed": {"partner": "acme"}})
    body, ctype = view_submission("escalation_file", file_values(), user="U0ACME1", private_metadata=honest)
    assert (await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)}))[0] == 200
    await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) >= 2)
    assert (await e.escalation()).breach_episode_id == breaches["acme"]


async def test_oversized_form_fields_are_refused_on_the_server(e2e: E2E):
    e = e2e
    values = slack_values(severity="P2", category="sla_performance", title="t", description="x" * 100_000)
    body, ctype = view_submission("escalation_file", values, user="U0ACME1", private_metadata=ACME_META)
    status, text = await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)})
    assert status == 200 and "3000 characters" in json.loads(text)["errors"]["description"]
    assert await escalation_count(e) == 0


# ---- the authorization matrix: aggregates and names -------------------------------------------

async def _grant_data_protection(e: E2E, handle: str) -> None:
    async with e.core.db.transaction() as s:
        for user in (await s.execute(select(User).where(User.handle == handle))).scalars():
            user.capabilities = ["data_protection"]


async def test_data_protection_escalations_counted_only_for_who_may_see_them(e2e: E2E):
    e = e2e
    world = await make_world_actors(e)
    await _grant_data_protection(e, "acme-am")
    await service.file_escalation(e.core.db, actor=world.actor("lead"), partner_id=world.partners["acme"].id,
                                  severity="P3", category="data_protection", title="Leaked customer list",
                                  now=e.clock.now())
    quarter = "2026-Q4"  # the clock's quarter (Monday 2026-11-16)
    expect = {"admin": True, "lead": True, "acme-am": True, "acme-tl": False, "globex-tl": False, "unknown": False}
    tried = refused = leaked = 0
    for who, sees in expect.items():
        pack = await ask(e, who, "/qbr", f"pack acme {quarter}")
        digest = await ask(e, who, "/kpi", "acme digest")
        for answer in (pack, digest):
            tried += 1
            shown = "data_protection" in answer or "Data protection" in answer  # the id, or its label
            if not sees:
                refused += not shown
                leaked += shown
            assert shown is False or sees, f"{who} saw a data-protection escalation: {answer[:300]}"
        if sees:
            assert "Data protection incident" in pack, pack
        if who in ("globex-tl", "unknown"):
            assert "Acme" not in pack and "Acme" not in digest
    print(f"aggregate attempts tried {tried}, refused {refused}, leaked {leaked}")
    assert leaked == 0
    # the attempts that must be refused: packs and digests asked for by viewers without the capability
    record("authorization", tried=refused + leaked, refused=refused, leaked=leaked)


async def make_world_actors(e: E2E):
    # the world is already applied by the e2e fixture; applying the same config again changes nothing
    return await make_world(e.core.db)


async def test_partner_users_learn_no_other_partner_and_no_ids(e2e: E2E):
    e = e2e
    world = await make_world_actors(e)
    globex_esc = await service.file_escalation(e.core.db, actor=world.actor("globex-tl"),
                                               partner_id=world.partners["globex"].id, severity="P3",
                                               category="sla_performance", title="Globex thing", now=e.clock.now())
    tried = leaked = 0
    for text, command in (("northwnd", "/kpi"), ("northwind", "/kpi"), ("globex", "/sla"), ("northwnd aht", "/kpi"),
                          ("list globex", "/escalate"), ("pack northwind 2026-Q4", "/qbr")):
        answer = (await ask(e, "acme-tl", command, text)).lower()
        tried += 1
        echoed = answer
        for word in text.lower().split():  # the answer may quote what was typed, nothing more
            echoed = echoed.replace(f"'{word}'", "")
        other = [name for name in ("northwind", "globex") if name in echoed]
        leaked += bool(other)
        assert not other, answer
    # a ref that exists (Globex's) and one that does not read the same to an Acme user
    seen = (await ask(e, "acme-tl", "/escalate", f"show {globex_esc.ref}")).replace(globex_esc.ref, "ESC-N")
    missing = (await ask(e, "acme-tl", "/escalate", "show ESC-999")).replace("ESC-999", "ESC-N")
    huge = (await ask(e, "acme-tl", "/escalate", "show 18446744073709551616")).replace(
        "ESC-18446744073709551616", "ESC-N")
    tried += 3
    assert seen == missing == huge and "Globex" not in seen
    # the admin and the client still get suggestions across every partner
    assert "northwind" in (await ask(e, "lead", "/kpi", "northwnd")).lower()
    print(f"name-disclosure attempts tried {tried}, leaked {leaked}")
    record("authorization", tried=tried, refused=tried - leaked, leaked=leaked)


@pytest.mark.parametrize("who", ["acme-tl", "globex-tl", "unknown"])
async def test_cross_partner_buttons_refused_without_a_name(e2e: E2E, who: str):
    e = e2e
    world = await make_world_actors(e)
    esc = await service.file_escalation(e.core.db, actor=world.actor("northwind-tl"),
                                        partner_id=world.partners["northwind"].id, severity="P3",
                                        category="sla_performance", title="NW thing", now=e.clock.now())
    before_events = len(await e.events())
    for action in ("escalation_acknowledge", "escalation_resolve", "escalation_add_note", "escalation_escalate_now"):
        body, ctype = block_action(action, f"escalation:{esc.id}", user=SLACK_IDS[who],
                                   response_url=e.slack.response_url(action))
        n = len(e.slack.responses)
        assert (await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)}))[0] == 200
        await e.slack.wait_for(lambda f, n=n: len(f.responses) > n)
        answer = json.dumps(e.slack.responses[-1])
        assert "Northwind" not in answer
    assert len(await e.events()) == before_events and not e.slack.of("views.open")
    record("authorization", tried=4, refused=4, leaked=0)


# ---- forged form state, every form, both platforms ----------------------------------------------

ACME_TL_AAD = "00000000-0000-4000-8000-00000000a001"
TEAMS_ACME_ESC = "19:acme-escalations@thread.tacv2"


async def _side_effects(e: E2E) -> dict[str, object]:
    """Everything a form could change, read from the database."""
    from bot.store.announcements import Announcement, AnnouncementSite
    from bot.store.escalations import EscalationEvent
    from bot.store.feedback import FeedbackResponse
    from bot.store.outbox import OutboxItem
    from bot.store.reports import ReverseReport

    async with e.core.db.session() as s:
        async def count(model) -> int:  # noqa: ANN001
            return (await s.execute(select(func.count()).select_from(model))).scalar_one()

        sites = (await s.execute(select(AnnouncementSite))).scalars().all()
        escalations = (await s.execute(select(Escalation))).scalars().all()
        return {"escalations": await count(Escalation), "events": await count(EscalationEvent),
                "reports": await count(ReverseReport), "feedback": await count(FeedbackResponse),
                "outbox": await count(OutboxItem),
                "states": sorted((x.id, x.status, x.assignee_id) for x in escalations),
                "sites": sorted((x.id, x.acknowledged_at is not None, x.trained_at is not None) for x in sites),
                "revisions": sorted((a.id, a.revision) for a in (await s.execute(select(Announcement))).scalars())}


async def _forged_world(e: E2E) -> dict[str, int]:
    """Globex's and Northwind's own objects an Acme user will name in forged form state."""
    from datetime import timedelta

    from bot.domain.announcements import Audience
    from bot.services import announcements as announcements_service
    from bot.store.announcements import AnnouncementSite
    from bot.store.feedback import Pulse, PulseInvite

    world = await make_world_actors(e)
    now = e.clock.now()
    globex, northwind = world.partners["globex"].id, world.partners["northwind"].id
    esc = await service.file_escalation(e.core.db, actor=world.actor("northwind-tl"), partner_id=northwind,
                                        severity="P3", category="sla_performance", title="NW thing", now=now)
    await service.acknowledge(e.core.db, escalation_id=esc.id, actor=world.actor("northwind-tl"), now=now)
    ann = await announcements_service.create_announcement(
        e.core.db, actor=world.actor("lead"), now=now, draft=announcements_service.Draft(
            title="Globex only", body="x", category="crm_change", effective_at=now + timedelta(days=3),
            ack_deadline=now + timedelta(days=2), training_due=now + timedelta(days=2),
            audience=Audience("partners", partner_ids=frozenset({globex}))))
    async with e.core.db.transaction() as s:
        target = next(t for t in (await s.execute(select(Target))).scalars() if t.partner_id == globex)
        breach = BreachEpisode(target_id=target.id, partner_id=globex, opened_at=now, last_violating_start=now,
                               last_violating_end=now, worst_value=1, last_value=1, created_at=now)
        pulse = Pulse(partner_id=globex, period="2026-11", opened_at=now, reminder_due_at=now + timedelta(days=2))
        s.add_all([breach, pulse])
        await s.flush()
        s.add(PulseInvite(pulse_id=pulse.id, handle="globex-tl"))
        site = (await s.execute(select(AnnouncementSite).where(AnnouncementSite.announcement_id == ann.id))
                ).scalars().first()
    return {"esc": esc.id, "ann": ann.id, "globex": globex, "breach": breach.id, "pulse": pulse.id, "site": site.id}


def _forgeries(ids: dict[str, int]) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(form, state, fixed fields, typed values) an Acme team lead sends about another partner's objects."""
    esc, filing = f"escalation:{ids['esc']}", dict(severity="P2", category="sla_performance", title="t",
                                                      description="d")
    return [
        ("escalation_file", "", {"partner": "globex"}, filing),
        ("escalation_file", f"breach:{ids['breach']}", {"partner": "acme"}, filing),
        ("escalation_note_form", esc, {}, {"note": "forged note"}),
        ("escalation_resolve_form", esc, {}, {"note": "forged resolution"}),
        ("escalation_reassign_form", esc, {}, {"assignee": "acme-tl", "note": ""}),
        ("feedback_form", f"pulse:{ids['pulse']}", {}, {"overall": "1", "comment": "forged"}),
        ("reverse_report_form", "", {"partner": "globex"}, {"kind": "praise", "text": "forged", "rating": "5"}),
        ("announcement_form", f"AN-{ids['ann']}", {}, {"title": "forged", "body": "forged", "category": "other"}),
        ("announcement_question_form", f"an-partner:{ids['ann']}:{ids['globex']}", {}, {"question": "forged?"}),
        ("announcement_training_form", f"an-partner:{ids['ann']}:{ids['globex']}", {},
         {"site": str(ids["site"]), "agents": "5"}),
    ]


async def _slack_submit(e: E2E, form: str, state: str, fixed: dict, typed: dict, user: str) -> str:
    meta = json.dumps({"state": state, "fixed": fixed})
    body, ctype = view_submission(form, slack_values(**typed), user=user, private_metadata=meta)
    before = len(e.slack.of("chat.postMessage"))
    status, text = await post_raw(e, body, {"Content-Type": ctype, **sign(SECRET, body)})
    assert status == 200
    if not text:  # the answer comes as a message to the submitter
        await e.slack.wait_for(lambda f: len(f.of("chat.postMessage")) > before)
    return text + json.dumps([c.body for c in e.slack.of("chat.postMessage")[before:]])


async def _teams_submit(e: E2E, form: str, state: str, fixed: dict, typed: dict, user: str) -> str:
    before = len(e.teams.calls)
    await e.teams_post({"form": form, "state": state, "fixed": fixed, **typed}, user=user,
                       conversation=TEAMS_ACME_ESC, reply_to=f"card-{form}")
    return json.dumps([c.activity for c in e.teams.calls[before:]])


async def test_forged_form_state_naming_another_partner_is_refused_on_slack_and_teams(e2e: E2E):
    e = e2e
    ids = await _forged_world(e)
    tried = refused = leaked = 0
    for platform, submit, user in (("slack", _slack_submit, "U0ACME1"), ("teams", _teams_submit, ACME_TL_AAD)):
        for form, state, fixed, typed in _forgeries(ids):
            before = await _side_effects(e)
            answer = await submit(e, form, state, fixed, typed, user)
            tried += 1
            changed = await _side_effects(e) != before
            named = [w for w in ("Globex", "Northwind", "NW thing", "Globex only") if w in answer]
            refused += not changed
            leaked += bool(named)
            assert not changed, f"{platform} {form} {state!r} {fixed} changed something: {answer[:400]}"
            assert not named, f"{platform} {form} answer names {named}: {answer[:400]}"
            assert answer.strip("[]"), f"{platform} {form}: no answer at all"
    # an escalation form naming Northwind's escalation reads like one naming an escalation that does not exist
    for form, typed in (("escalation_note_form", {"note": "n"}), ("escalation_resolve_form", {"note": "n"}),
                        ("escalation_reassign_form", {"assignee": "acme-tl", "note": ""})):
        answers = []
        for ref in (ids["esc"], 999):
            answer = await _slack_submit(e, form, f"escalation:{ref}", {}, typed, "U0ACME1")
            answers.append(re.sub(r'"ts": "[^"]*"', "", answer.replace(f"ESC-{ref}", "ESC-N")))
        tried += 1
        leaked += answers[0] != answers[1]
        assert answers[0] == answers[1], answers
    refused = tried - leaked
    print(f"forged form state tried {tried}, refused {refused}, leaked {leaked}")
    assert (tried, refused, leaked) == (23, 23, 0)
    record("authorization", tried=tried, refused=refused, leaked=leaked)
    # the same paths act for whom the state belongs to: the refusals above are about the actor, not the path
    before = (await _side_effects(e))["events"]
    await _slack_submit(e, "escalation_note_form", f"escalation:{ids['esc']}", {}, {"note": "own note"}, "U0NORTH1")
    assert (await _side_effects(e))["events"] == before + 1
    await _teams_submit(e, "escalation_file", "", {"partner": "acme"}, dict(severity="P2", category="sla_performance",
                                                                          title="own", description="d"), ACME_TL_AAD)
    assert (await _side_effects(e))["escalations"] == 2
