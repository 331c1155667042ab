"""The whole escalation story, driven through the core's entry points and the real outbox delivery.

A partner user files from Slack, nobody acknowledges, it climbs the levels on time (the job
driven by the frozen clock), a client acknowledges from Teams and resolves with a note. The
commands, presses and submissions go through ``bot.commands.dispatch`` /
``bot.interactions.handle_action`` / ``handle_form`` (what the Slack and Teams adapters call);
every outgoing message goes through the outbox and the delivery worker into recording gateways.
"""

from __future__ import annotations

import random

import pytest

from bot.actions import ActionId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import OpenForm
from bot.services.delivery import deliver_all
from bot.settings import Settings
from jobs import escalation_timers
from tests.escalation_world import make_world
from tests.fakes.recording_gateway import RecordingGateway


@pytest.fixture
def core(db, clock) -> Core:
    return Core(db=db, settings=Settings(database_url=db.url, slack_pace_seconds=0), clock=clock)


async def no_sleep(_seconds: float) -> None:
    return None


async def test_escalation_flow_partner_files_in_slack_climbs_client_acknowledges_in_teams_and_resolves(
        db, core, clock):
    world = await make_world(db)
    slack, teams = RecordingGateway(clock, "slack"), RecordingGateway(clock, "teams")
    gateways = {"slack": slack, "teams": teams}

    async def deliver() -> None:
        report = await deliver_all(core, gateways, rng=random.Random(1), sleep=no_sleep)
        assert report.dead == 0 and report.retried == 0, report.errors

    partner_user = world.actor("acme-tl", "slack")
    client_in_teams = world.actor("lead", "teams")

    # 1. the partner user types /escalate in Slack and fills in the form
    opened = await dispatch(core, text="", slash="/escalate", actor=partner_user, platform="slack")
    assert isinstance(opened, OpenForm)
    values = {f.id: f.initial for f in opened.form.fields}
    assert values["partner"] == "acme"
    values.update(severity="P2", category="staffing_attrition", title="Lisbon chat team down to 3 agents",
                  description="Flu wave; chat SL at 40% since 09:00")
    filed = await handle_form(core, Submission(opened.form.id, values, partner_user, opened.form.state))
    ref = filed.extra["ref"]
    assert filed.reply.title == f"Filed {ref}"
    await deliver()
    card_in_teams = [s for s in teams.posts_to("acme-escalations") if s.kind == "post"]
    assert [s.message.title for s in card_in_teams] == [f"{ref} [P2] Lisbon chat team down to 3 agents"]
    # level 1 is the filer's own team lead: asked to act; the filing itself was confirmed by the form
    assert [s.message.title for s in slack.posts_to("U0ACME1") if s.kind == "direct"][:2] == [
        f"Needs your attention: {ref} [P2] Lisbon chat team down to 3 agents"]

    # 2. nobody acknowledges: reminders every 10 minutes, then L2 at 30 minutes, L3 one hour later
    steps = []
    for minutes in (10, 10, 10, 60):
        clock.advance(minutes=minutes)
        run = await escalation_timers.run(core)
        await deliver()
        steps.append((clock.now().strftime("%H:%M"), run.reminded, run.escalated))
    assert steps == [("10:10", (ref,), ()), ("10:20", (ref,), ()), ("10:30", (), (ref,)), ("11:30", (), (ref,))]
    assert any(s.kind == "direct" for s in slack.posts_to("U0ACME2"))  # L2: partner account manager
    lead_dm = [s for s in teams.posts_to("00000000-0000-4000-8000-00000000c001") if s.kind == "direct"]
    assert lead_dm and lead_dm[-1].message.summary.startswith("Acme Contact Solutions - you are L3 Client BPO lead")
    updates = [s for s in teams.sent if s.kind == "update" and s.ref == card_in_teams[0].ref]
    assert updates[-1].message.summary.endswith("L3 Client BPO lead")

    # 3. the client presses Acknowledge on the Teams message they were sent
    ack_button = next(a for a in lead_dm[-1].message.actions if a.id is ActionId.ESCALATION_ACKNOWLEDGE)
    clock.advance(minutes=7)
    acked = await handle_action(core, Press(ack_button.id, ack_button.value, client_in_teams))
    assert acked.replace.summary.startswith("Acme Contact Solutions - Acknowledged")
    clock.advance(hours=1)
    assert await escalation_timers.run(core) == escalation_timers.TimerRun()  # no more climbing

    # 4. ... and resolves it with a note through the resolve form
    resolve_button = next(a for a in acked.replace.actions if a.id is ActionId.ESCALATION_RESOLVE)
    form = (await handle_action(core, Press(resolve_button.id, resolve_button.value, client_in_teams))).open_form.form
    empty = await handle_form(core, Submission(form.id, {"note": ""}, client_in_teams, form.state))
    assert "note" in empty.errors.errors
    done = await handle_form(core, Submission(form.id, {"note": "Two agents moved from Krakow for the week"},
                                              client_in_teams, form.state))
    assert done.reply.title == f"{ref}: resolved"
    await deliver()

    # the card in the Teams channel was updated in place to its final state, history in its thread
    final = [s for s in teams.sent if s.kind == "update" and s.ref == card_in_teams[0].ref][-1].message
    assert final.summary.startswith("Acme Contact Solutions - Resolved")
    assert next(s for s in final.sections if s.heading == "Resolution").text.startswith("Two agents moved")
    thread = [s.message.summary for s in teams.sent if s.kind == "post" and s.thread_ref]
    assert any("Lena Lead acknowledged it" in line for line in thread)
    assert any("Lena Lead resolved it" in line for line in thread)
    # the filer heard of every change in Slack
    filer_dms = [s.message.summary for s in slack.posts_to("U0ACME1")
                 if s.kind == "direct" and s.message.title == f"Your escalation {ref} changed"]
    assert len(filer_dms) == 4  # 2 escalations, acknowledged, resolved (repeat notices are no change)
    assert "Two agents moved" in filer_dms[-1]

    # 5. the audit trail, as the partner user sees it
    shown = await dispatch(core, text=f"escalate show {ref}", actor=partner_user, platform="slack")
    history = next(s for s in shown.sections if s.heading == "History").bullets
    assert [line.split(" - ", 1)[1].split(" (")[0] for line in history] == [
        "Tomasz Nowak filed it", "Liaison reminded the current level", "Liaison reminded the current level",
        "Liaison escalated it: nobody acknowledged in time", "Liaison escalated it: nobody acknowledged in time",
        "Lena Lead acknowledged it", "Lena Lead resolved it"]
