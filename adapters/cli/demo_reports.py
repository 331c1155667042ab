"""The demo's reverse report step: the client lead sends acme a report from Slack, acme acknowledges it,
and a second report left unacknowledged is reminded after 2 of acme's business days.

Runs on the example config through the handlers the Slack adapter calls (handle_form / handle_action
with the people's Slack identities), the reminder job's service and the delivery worker, on a
ManualClock in the last complete week, so the digest step counts both reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

import bot.services.reports  # noqa: F401 - registers the report command, button and form
from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from bot.actions import ActionId, FormId
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.ports import ManualClock
from bot.services.delivery import deliver_all
from bot.services.identity import resolve_actor
from bot.services.reports import send_reminders
from bot.store.models import Partner

Write = Callable[[str], object]
SENDER = ("slack", "U0LEAD")  # lead, the client's BPO lead
PARTNER = ("slack", "U0ACME1")  # acme-tl
STEP = timedelta(minutes=15)  # the job's schedule


def _tuesday(now: datetime, tz: ZoneInfo) -> datetime:
    """Tuesday 10:00 (partner time) of the last complete week."""
    today = now.astimezone(tz).date()
    return datetime.combine(today - timedelta(days=today.weekday() + 6), time(10, 0), tzinfo=tz)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %H:%M")


async def show_reverse_report(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """Send acme a report from Slack, acknowledge it on the card, remind about one left alone."""
    async with core.db.session() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one_or_none()
    if acme is None:
        write("No partner acme in the config; skipping the reverse report showcase.")
        return
    tz = ZoneInfo(acme.timezone)
    clock = ManualClock(_tuesday(core.clock.now(), tz))
    replay = Core(db=core.db, settings=core.settings, clock=clock)
    sender = await resolve_actor(replay, platform=SENDER[0], platform_user_id=SENDER[1])
    partner = await resolve_actor(replay, platform=PARTNER[0], platform_user_id=PARTNER[1])
    if sender.user_id is None or partner.user_id is None:
        write("The example users lead and acme-tl are not configured; skipping the reverse report showcase.")
        return
    slack = preview["slack"]

    # 1. /report acme in Slack: the modal's values go to the form handler the adapter calls
    sent = await handle_form(replay, Submission(form=FormId.REVERSE_REPORT, actor=sender, values={
        "partner": "acme", "kind": "process_issue", "rating": "2",
        "text": "3 of 11 meetings booked last week had no decision maker on the call. "
                "Please re-check qualification step 4 with the Kraków team.",
        "link": "https://crm.example.com/reports/meetings-w46"}))
    if sent.errors is not None:
        write(f"The report form was refused: {dict(sent.errors.errors)}")
        return
    report_id, ref = sent.extra["report_id"], sent.extra["ref"]
    write(f"{_local(clock.now(), tz)}  {sender.display} sends {ref} to {acme.name} with /report acme in Slack; "
          f"times below are {acme.timezone}.")
    write(f"  {sent.reply.summary}")
    seen = len(slack.posted)
    await deliver_all(replay, preview, limit=500)
    card = next(((d, m) for d, m in slack.posted[seen:] if not d.startswith("user:") and m.actions), None)
    if card is not None:
        write(f"\nThe card in Slack #{card[0]}:")
        write(render(card[1]))

    # 2. acme's team leader presses Acknowledge on the card; the card is updated in place
    clock.set(clock.now() + timedelta(hours=3, minutes=10))
    pressed = await handle_action(replay, Press(action=ActionId.REPORT_ACKNOWLEDGE, value=f"report:{report_id}",
                                                actor=partner))
    write(f"\n{_local(clock.now(), tz)}  {partner.display} presses Acknowledge: {pressed.reply.title}")
    seen = len(slack.posted)
    await deliver_all(replay, preview, limit=500)
    for destination, message in slack.posted[seen:]:
        if destination.startswith("user:"):
            write(f"  {sender.display} gets a Slack DM: {message.title}")
        elif not message.actions and message.summary and message.summary.startswith("Acknowledged"):
            write(f"  The card in #{acme.slug} is updated in place: {message.summary}")

    # 3. a second report nobody acknowledges: reminded once, 2 of acme's business days later
    clock.set(clock.now() + timedelta(days=1, hours=1, minutes=50))  # Wednesday 15:00
    second = await handle_form(replay, Submission(form=FormId.REVERSE_REPORT, actor=sender, values={
        "partner": "acme", "kind": "lead_quality", "rating": "4",
        "text": "Lead notes from the Lisbon team are much better this week: budget and timeline captured."}))
    if second.errors is not None:
        write(f"The second report was refused: {dict(second.errors.errors)}")
        return
    write(f"\n{_local(clock.now(), tz)}  {sender.display} sends {second.extra['ref']} (lead quality); "
          f"nobody acknowledges it. The reminder job runs every 15 minutes:")
    await deliver_all(replay, preview, limit=500)
    reminded: list[str] = []
    for _ in range(4 * 24 * 4):
        clock.set(clock.now() + STEP)
        reminded = await send_reminders(replay.db, now=clock.now())
        if reminded:
            break
    seen = len(slack.posted)
    await deliver_all(replay, preview, limit=500)
    reminder = next((m for d, m in slack.posted[seen:] if d.startswith("C")), None)
    if reminder is not None:
        write(f"  {_local(clock.now(), tz)}  reminder in acme's reports thread: {reminder.title}")
        write(render(reminder))
    for _ in range(8):
        clock.set(clock.now() + STEP)
        reminded += await send_reminders(replay.db, now=clock.now())
    write(f"  Two hours later: {len(reminded)} reminder in all; each report is reminded once.")
