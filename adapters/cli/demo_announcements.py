"""The demo's announcement step: the client lead rolls out a CRM change to Acme's and Globex's sites from
Slack, the cards update as Kraków and São Paulo acknowledge, Lisbon does not and is reminded half-way and at
the deadline in Warsaw business hours, the lead gets the missing site, and the digest line counts it.

Runs on the example config through the handlers the Slack adapter calls (handle_form / handle_action with
the people's Slack identities), the announcements job's services and the delivery worker, on a ManualClock
in the last complete week (so the digest step's "What changed" counts it too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

import bot.services.announcements  # noqa: F401 - registers the announce command, buttons and forms
from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from bot.actions import ActionId, FormId
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.ports import ManualClock
from bot.services.announcements import digest_lines, report_missing, send_reminders
from bot.services.delivery import deliver_all
from bot.services.identity import resolve_actor
from bot.store.announcements import AnnouncementSite
from bot.store.models import Partner

Write = Callable[[str], object]
SENDER = ("slack", "U0LEAD")  # lead, the client's BPO lead
KRAKOW = ("slack", "U0ACME1")  # acme-tl, acme's lead
SAO_PAULO = ("slack", "U0GLOBEX1")  # globex-tl
STEP = timedelta(minutes=15)  # the job's schedule


def _monday(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 09:30 (client time) of the last complete week."""
    today = now.astimezone(tz).date()
    return datetime.combine(today - timedelta(days=today.weekday() + 7), time(9, 30), tzinfo=tz)


async def show_announcement(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """Roll out a CRM change to acme and globex, acknowledge two sites, remind the third, print the digest line."""
    async with core.db.session() as s:
        partners = {p.slug: p for p in (await s.execute(select(Partner).where(
            Partner.slug.in_(["acme", "globex"])))).scalars().all()}
    if len(partners) < 2:
        write("The example partners acme and globex are not configured; skipping the announcement showcase.")
        return
    acme, globex = partners["acme"], partners["globex"]
    warsaw, berlin = ZoneInfo(acme.timezone), ZoneInfo("Europe/Berlin")
    clock = ManualClock(_monday(core.clock.now(), berlin))
    replay = Core(db=core.db, settings=core.settings, clock=clock)
    sender = await resolve_actor(replay, platform=SENDER[0], platform_user_id=SENDER[1])
    krakow_lead = await resolve_actor(replay, platform=KRAKOW[0], platform_user_id=KRAKOW[1])
    sp_lead = await resolve_actor(replay, platform=SAO_PAULO[0], platform_user_id=SAO_PAULO[1])
    if sender.user_id is None or krakow_lead.user_id is None or sp_lead.user_id is None:
        write("The example users lead, acme-tl and globex-tl are not configured; skipping the showcase.")
        return
    slack = preview["slack"]
    week = clock.now().astimezone(berlin).date()

    # 1. /announce in Slack: the modal's values go to the form handler the adapter calls
    deadline = week + timedelta(days=3)  # Thursday 17:00 client time
    sent = await handle_form(replay, Submission(form=FormId.ANNOUNCEMENT, actor=sender, values={
        "title": "Refunds move to the new Cases > Refund screen",
        "body": "From Wednesday agents issue refunds in the CRM's new Cases > Refund screen; the old Billing "
                "tab goes read-only. Refunds over 200 EUR still need a team lead's approval.",
        "category": "crm_change", "effective_date": (week + timedelta(days=2)).isoformat(), "effective_time": "08:00",
        "audience": "partners", "partners": ["acme", "globex"], "link": "https://crm.example.com/release/refunds",
        "requires_ack": "yes", "ack_date": deadline.isoformat(), "ack_time": "17:00", "requires_training": "no"}))
    if sent.errors is not None:
        write(f"The announcement form was refused: {dict(sent.errors.errors)}")
        return
    ref = sent.extra["ref"]
    write(f"{clock.now().astimezone(berlin):%a %H:%M} (Berlin)  {sender.display} announces {ref} with /announce: "
          f"{sent.reply.title}.")
    seen = len(slack.posted)
    await deliver_all(replay, preview, limit=500)
    card = next(((d, m) for d, m in slack.posted[seen:] if d == "C0ACMEANNOUNCE"), None)
    if card is not None:
        write(f"\nAcme's card in Slack #{card[0]} (times in {acme.timezone}):")
        write(render(card[1]))

    # 2. Kraków and São Paulo acknowledge on their cards; each press edits the cards in place
    async with core.db.session() as s:
        rows = {r.site_key: r for r in (await s.execute(select(AnnouncementSite).where(
            AnnouncementSite.announcement_id == sent.extra["announcement_id"]))).scalars().all()}
    for after, who, site in ((timedelta(hours=1, minutes=40), krakow_lead, "krakow"),
                             (timedelta(hours=4), sp_lead, "saopaulo")):
        clock.set(clock.now() + after)
        pressed = await handle_action(replay, Press(action=ActionId.ANNOUNCEMENT_ACKNOWLEDGE,
                                                    value=f"an-site:{rows[site].id}", actor=who))
        write(f"\n{clock.now().astimezone(berlin):%a %H:%M} (Berlin)  {who.display} presses Acknowledge: "
              f"{pressed.reply.title}")
        seen = len(slack.posted)
        await deliver_all(replay, preview, limit=500)
        # the cards of one press go out in any order (one sender per channel): print them by channel
        for destination, message in sorted(slack.posted[seen:], key=lambda posted: posted[0]):
            if destination.startswith("slack:C0CXANNOUNCE:") or destination.startswith("slack:C0ACMEANNOUNCE:") \
                    or destination.startswith("slack:C0GLXREPORT:"):
                write(f"  the card in #{destination.split(':')[1]} is updated in place: {message.summary}")

    # 3. Lisbon does not acknowledge: the job reminds acme half-way and at the deadline, in Warsaw hours
    write("\nLisbon does not acknowledge. The announcements job runs every 15 minutes:")
    end = datetime.combine(deadline + timedelta(days=1), time(12, 0), tzinfo=berlin)
    reminders = 0
    now = clock.now()
    clock.set(now - timedelta(minutes=now.minute % 15, seconds=now.second, microseconds=now.microsecond))
    while clock.now() < end:
        clock.set(clock.now() + STEP)
        keys = await send_reminders(replay.db, now=clock.now()) + await report_missing(replay.db, now=clock.now())
        if not keys:
            continue
        seen = len(slack.posted)
        await deliver_all(replay, preview, limit=500)
        for destination, message in slack.posted[seen:]:
            if destination == "C0ACMEANNOUNCE":
                reminders += 1
                write(f"  {clock.now().astimezone(warsaw):%a %H:%M} (Warsaw)  in the card's thread: {message.title}")
            elif destination.startswith("user:") and "did not acknowledge" in message.title:
                write(f"  {clock.now().astimezone(berlin):%a %H:%M} (Berlin)  {sender.display} gets a Slack DM: "
                      f"{message.title}: {', '.join(message.sections[0].bullets)}")
    write(f"  {reminders} reminders in all, none for the sites that acknowledged.")

    # 4. the weekly digest's line (the digest step below shows it in its "What changed")
    start = datetime.combine(week, time(0), tzinfo=berlin)
    async with core.db.session() as s:
        lines = await digest_lines(s, [acme, globex], start, start + timedelta(days=7), True)
    for line in lines:
        write(f"\nDigest line: {line}")
