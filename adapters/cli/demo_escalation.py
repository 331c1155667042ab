"""The demo's escalation step: filed in Slack, climbing unacknowledged, acknowledged and resolved in Teams.

Runs on the example config through the same handlers the Slack and Teams adapters call
(handle_form / handle_action with the people's Slack and Teams identities), the escalation
timers job and the delivery worker, on a ManualClock moved through the policy's waits.
The escalation is filed on Tuesday of the last complete week, so the digest step shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

import bot.services.escalation_handlers  # noqa: F401 - registers the escalation buttons and forms
from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.ports import ManualClock
from bot.services.delivery import deliver_all
from bot.services.identity import resolve_actor
from bot.store.escalations import Escalation, events_of
from bot.store.models import Partner
from jobs import escalation_timers

Write = Callable[[str], object]
FILER = ("slack", "U0ACME1")  # acme-tl, Tomasz Nowak
LEAD = ("teams", "00000000-0000-4000-8000-00000000c001")  # lead, Lena Lead
STEP = timedelta(minutes=5)
NOTE = "Overflow routed to Lisbon; Kraków SL back at 83% by 15:00."


def _start(now: datetime, tz: ZoneInfo) -> datetime:
    """Tuesday 10:00 (partner time) of the last complete week: business hours, inside the digest's week."""
    today = now.astimezone(tz).date()
    tuesday = today - timedelta(days=today.weekday() + 6)
    return datetime.combine(tuesday, time(10, 0), tzinfo=tz)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %H:%M")


async def _deliver(core: Core, preview: dict[str, PreviewGateway]) -> None:
    await deliver_all(core, preview, limit=500)


async def show_escalation(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """acme-tl files a P2 in Slack; nobody acknowledges; the lead acknowledges and resolves it in Teams."""
    async with core.db.session() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one_or_none()
    if acme is None:
        write("No partner acme in the config; skipping the escalation showcase.")
        return
    tz = ZoneInfo(acme.timezone)
    clock = ManualClock(_start(core.clock.now(), tz))
    replay = Core(db=core.db, settings=core.settings, clock=clock)
    filer = await resolve_actor(replay, platform=FILER[0], platform_user_id=FILER[1])
    lead = await resolve_actor(replay, platform=LEAD[0], platform_user_id=LEAD[1])
    if filer.user_id is None or lead.user_id is None:
        write("The example users acme-tl and lead are not configured; skipping the escalation showcase.")
        return

    # 1. /escalate in Slack: the modal's values go to the same form handler the adapter calls
    result = await handle_form(replay, Submission(form=FormId.ESCALATION_FILE, actor=filer, values={
        "severity": "P2", "category": "sla_performance", "title": "Kraków voice SL at 61%: 12 agents out sick",
        "description": "Flu wave since Monday; voice queue waits over 4 minutes."}))
    if result.errors is not None:
        write(f"The filing form was refused: {dict(result.errors.errors)}")
        return
    escalation_id, ref = result.extra["escalation_id"], result.extra["ref"]
    write(f"{_local(clock.now(), tz)}  {filer.display} files {ref} with /escalate in Slack "
          f"(P2, SLA / performance); times below are {acme.timezone}.")
    slack = preview["slack"]
    seen = len(slack.posted)
    await _deliver(replay, preview)
    card = next((m for dest, m in slack.posted[seen:] if not dest.startswith("user:") and m.actions), None)
    if card is not None:
        write(f"\nThe card in Slack #{next(d for d, m in slack.posted[seen:] if m is card)}:")
        write(render(card))

    # 2. nobody acknowledges: the timers job runs every few minutes and climbs the levels
    write("\nNobody acknowledges; the escalation timers run:")
    while True:
        clock.set(clock.now() + STEP)
        run = await escalation_timers.run(replay)
        await _deliver(replay, preview)
        if not (run.escalated or run.reminded):
            continue
        async with core.db.session() as s:
            esc = await s.get(Escalation, escalation_id)
        told = ", ".join(esc.notified) or "nobody yet"
        what = f"climbs to L{esc.level + 1}" if run.escalated else f"L{esc.level + 1} reminded"
        write(f"  {_local(clock.now(), tz)}  {ref} {what}; told: {told}")
        if esc.level >= 2 and run.escalated:  # the client BPO lead has it now
            break

    # 3. the lead acknowledges and resolves in Teams (buttons and form, as the Teams adapter passes them)
    clock.set(clock.now() + timedelta(minutes=12))
    value = f"escalation:{escalation_id}"
    pressed = await handle_action(replay, Press(action=ActionId.ESCALATION_ACKNOWLEDGE, value=value, actor=lead))
    write(f"\n{_local(clock.now(), tz)}  {lead.display} presses Acknowledge in Teams: {pressed.reply.title}")
    clock.set(clock.now() + timedelta(hours=1))
    await escalation_timers.run(replay)
    write(f"{_local(clock.now(), tz)}  the timers find nothing more to do: acknowledged escalations stop climbing")
    opened = await handle_action(replay, Press(action=ActionId.ESCALATION_RESOLVE, value=value, actor=lead))
    form = opened.open_form.form if opened.open_form else None
    empty = await handle_form(replay, Submission(form=FormId.ESCALATION_RESOLVE, values={"note": ""}, actor=lead,
                                                 state=form.state if form else str(escalation_id)))
    if empty.errors is not None:
        write(f"{_local(clock.now(), tz)}  Resolve with an empty note is refused: {empty.errors.errors['note']}")
    clock.set(clock.now() + timedelta(hours=2))
    done = await handle_form(replay, Submission(form=FormId.ESCALATION_RESOLVE, values={"note": NOTE}, actor=lead,
                                                state=form.state if form else str(escalation_id)))
    write(f"{_local(clock.now(), tz)}  {lead.display} resolves it with a note: {done.reply.title if done.reply else ''}")
    await _deliver(replay, preview)
    async with core.db.session() as s:
        esc = await s.get(Escalation, escalation_id)
        events = await events_of(s, escalation_id)
    write(f"State: {esc.status}; {len(events)} events in the audit trail.")

    # 4. the audit trail, as acme-tl sees it with `escalate show`
    write(f"\nacme-tl> escalate show {ref}")
    reply = await dispatch(core, text=f"escalate show {ref}", actor=filer, platform="console", channel="console")
    write(_trail(render(reply)))


def _trail(shown: str) -> str:
    """Keep the reply's headline and its Resolution and History sections (the card above has the rest)."""
    lines = shown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("-- Resolution")), len(lines))
    end = next((i for i, line in enumerate(lines) if i > start and not line.startswith(("  ", "--")) and line), len(lines))
    return "\n".join(lines[:3] + [""] + lines[start:end]).rstrip()
