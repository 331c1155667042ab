"""Announcements through the core on both backends: authorization, audiences, per-site acknowledgement,
reminders over weeks in Warsaw, Manila, Bogotá and São Paulo business hours, the deadline report, edits,
questions, training, Home, digest and QBR lines, and scheduled messages exactly once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import Message, OpenForm
from bot.messages_codec import message_from_dict
from bot.services import announcements as svc
from bot.services.digest import DIGEST_CHANGES
from bot.services.home import HOME_SECTIONS, home_message
from bot.services.qbr import PACK_FEEDBACK
from bot.settings import Settings
from bot.store.announcements import Announcement, AnnouncementPartner, AnnouncementSite
from bot.store.db import Database
from bot.store.models import Measurement
from bot.store.outbox import OutboxItem
from jobs import announcements as job
from tests.escalation_world import UNKNOWN
from tests.fakes.announcement_world import make_announcement_world

ACTORS = ("lead", "admin", "acme-tl", "acme-am", "globex-tl", "unknown")
# client time is Europe/Berlin: the deadline is Friday 20 Nov 17:00 CET = 16:00 UTC
GOOD = {"title": "Refunds move to the new CRM screen", "body": "From Monday agents issue refunds in Cases > Refund.",
        "category": "crm_change", "effective_date": "2026-11-23", "effective_time": "08:00", "audience": "all",
        "link": "https://crm.example/release/42", "requires_ack": "yes", "ack_date": "2026-11-20", "ack_time": "17:00",
        "requires_training": "no"}
DEADLINE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


@pytest.fixture
async def world(db):
    return await make_announcement_world(db)


@pytest.fixture
def who(world):
    def actor(name: str, platform: str = "slack"):
        return UNKNOWN if name == "unknown" else world.actor(name, platform)
    return actor


async def submit(core, actor, **changes):
    return await handle_form(core, Submission(FormId.ANNOUNCEMENT, {**GOOD, **changes}, actor))


async def announce(core, who, name: str = "lead", **changes) -> Announcement:
    result = await submit(core, who(name), **changes)
    assert result.errors is None, result.errors
    async with core.db.session() as s:
        return await s.get(Announcement, result.extra["announcement_id"])


async def outbox(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.exec(select(OutboxItem).order_by(OutboxItem.id))).all())


async def site_rows(db, announcement_id: int) -> dict[str, AnnouncementSite]:
    async with db.session() as s:
        rows = (await s.exec(select(AnnouncementSite).where(AnnouncementSite.announcement_id == announcement_id))).all()
    return {r.site_key or r.site_name: r for r in rows}


async def press_ack(core, actor, row: AnnouncementSite):
    return await handle_action(core, Press(ActionId.ANNOUNCEMENT_ACKNOWLEDGE, f"an-site:{row.id}", actor))


def latest(rows: list[OutboxItem], destination: str) -> Message:
    return message_from_dict([r for r in rows if r.destination == destination][-1].payload)


# ---- the command and the form ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_announce_opens_the_form_only_for_client_managers_and_admins(core, world, who, name):
    reply = await dispatch(core, text="announce", actor=who(name), platform="slack")
    if name in ("lead", "admin"):
        assert isinstance(reply, OpenForm)
        fields = {f.id: f for f in reply.form.fields}
        assert [o.value for o in fields["category"].options] == ["product_launch", "procedure_change", "crm_change",
                                                                 "policy_compliance", "other"]
        assert [o.value for o in fields["audience"].options] == ["all", "partners", "sites"]
        assert "acme/krakow" in [o.value for o in fields["sites"].options]
        assert [o.value for o in fields["channels"].options] == ["voice", "chat", "email", "social"]
        assert {"requires_ack", "ack_date", "requires_training", "training_date", "link"} <= set(fields)
    else:
        assert isinstance(reply, Message)
        assert ("not set up in Liaison" if name == "unknown" else "only client managers and admins") in reply.text


async def test_form_errors_keep_the_form_open_and_create_nothing(core, world, who):
    bad = await submit(core, who("lead"), title="", effective_date="23/11/2026", ack_date="2026-11-01",
                       audience="partners", partners=[], sites=["acme/paris"], link="crm.example",
                       channels=["fax"], requires_training="yes", training_date="")
    assert set(bad.errors.errors) == {"title", "effective_date", "ack_date", "partners", "sites", "link", "channels",
                                      "training_date"}
    assert "YYYY-MM-DD" in bad.errors.errors["effective_date"] and "future" in bad.errors.errors["ack_date"]
    assert "acme/paris" in bad.errors.errors["sites"]
    refused = await submit(core, who("acme-tl"))
    assert refused.errors is None and "only client managers" in refused.reply.text.lower()
    async with core.db.session() as s:
        assert (await s.exec(select(Announcement))).all() == []
    assert await outbox(core.db) == []


# ---- audience and routes ------------------------------------------------------------------------

async def test_audience_all_reaches_every_site_on_each_partners_route_with_fallbacks(core, world, who):
    sent = await announce(core, who)
    rows = await site_rows(core.db, sent.id)
    assert sorted(rows) == ["cali", "krakow", "lisbon", "manila", "medellin", "saopaulo"]
    items = await outbox(core.db)
    cards = {(r.platform, r.destination) for r in items}
    assert cards == {("slack", "C0ACMEANNOUNCE"), ("teams", "acme-announcements"),  # its own route
                     ("slack", "C0GLXREPORT"), ("teams", "globex-reports"),  # falls back to reports
                     ("slack", "C0NWREPORT"), ("teams", "northwind-reports"),
                     ("slack", "C0INITREPORT"), ("teams", "initech-reports"),
                     ("slack", "C0CXANNOUNCE"), ("teams", "cx-announcements")}  # the client's copy
    acme = latest(items, "C0ACMEANNOUNCE")
    # each partner's card shows its own sites only, never another partner's name
    text = str(acme)
    assert "Kraków" in text and "Lisbon" in text and "Globex" not in text and "Initech" not in text
    assert acme.summary.startswith("0 of 2 sites acknowledged")
    assert [a.label for a in acme.actions] == ["Acknowledge: Kraków", "Acknowledge: Lisbon", "Have a question"]
    # effective time in each partner's zone: 08:00 Berlin is 08:00 Warsaw, 15:00 Manila, 02:00 Bogotá
    facts = {f.label: f.value for s in latest(items, "C0NWREPORT").sections for f in s.facts}
    assert facts["Effective"] == "Mon 23 Nov 2026 15:00 PST"
    facts = {f.label: f.value for s in latest(items, "C0INITREPORT").sections for f in s.facts}
    assert facts["Effective"] == "Mon 23 Nov 2026 02:00 -05" and facts["Acknowledge by"] == "Fri 20 Nov 2026 11:00 -05"
    copy = latest(items, "C0CXANNOUNCE")
    assert copy.summary == "0 of 6 sites acknowledged" and copy.actions == ()
    assert "Initech Colombia / Cali: waiting for acknowledgement" in str(copy)


async def test_audience_chosen_partners_sites_and_channels(core, world, who):
    partners = await announce(core, who, audience="partners", partners=["globex", "initech"])
    sites = await announce(core, who, audience="sites", sites=["acme/lisbon", "initech/cali"])
    voice = await announce(core, who, audience="all", channels=["voice"])  # initech handles chat and email only
    chat_partners = await announce(core, who, audience="partners", partners="acme,initech,globex", channels="chat")
    assert sorted(await site_rows(core.db, partners.id)) == ["cali", "medellin", "saopaulo"]
    assert sorted(await site_rows(core.db, sites.id)) == ["cali", "lisbon"]
    assert sorted(await site_rows(core.db, voice.id)) == ["krakow", "lisbon", "manila", "saopaulo"]
    assert sorted(await site_rows(core.db, chat_partners.id)) == ["cali", "krakow", "lisbon", "medellin"]
    items = await outbox(core.db)
    sites_cards = {r.destination for r in items if r.key.startswith(f"announcement:{sites.id}:")}
    assert sites_cards == {"C0ACMEANNOUNCE", "acme-announcements", "C0INITREPORT", "initech-reports",
                           "C0CXANNOUNCE", "cx-announcements"}
    lisbon_only = latest([r for r in items if r.key.startswith(f"announcement:{sites.id}:")], "C0ACMEANNOUNCE")
    assert "Kraków" not in str(lisbon_only) and lisbon_only.summary.startswith("0 of 1 site acknowledged")
    nobody = await submit(core, who("lead"), audience="sites", sites=["initech/cali"], channels=["voice"])
    assert "matches no partner site" in nobody.errors.errors["audience"]


# ---- acknowledgement -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_acknowledge_authorization_matrix(core, world, who, name):
    sent = await announce(core, who)
    krakow = (await site_rows(core.db, sent.id))["krakow"]
    result = await press_ack(core, who(name), krakow)
    after = (await site_rows(core.db, sent.id))["krakow"]
    if name == "acme-tl":  # acme's lead acts for every acme site
        assert after.acknowledged_at is not None and after.acknowledged_name == "Tomasz Nowak"
        assert result.replace is not None and "1 of 2 sites acknowledged" in result.replace.summary
        return
    assert after.acknowledged_at is None
    assert result.replace is None
    text = result.reply.text
    if name == "acme-am":  # Lisbon's site lead, pressing for Kraków
        assert "Kraków's team" in text
    elif name == "globex-tl":  # another partner learns nothing, not even the partner's name
        assert "not addressed to you" in text and "Acme" not in text and "Kraków" not in text
    elif name == "unknown":
        assert "not set up in Liaison" in text
    else:
        assert "site's own team" in text
    lisbon = (await site_rows(core.db, sent.id))["lisbon"]
    if name == "acme-am":
        ok = await press_ack(core, who(name), lisbon)
        assert "acknowledged for Lisbon" in ok.reply.title


async def test_acknowledge_first_press_wins_and_updates_cards_in_place(core, world, who, clock):
    sent = await announce(core, who)
    rows = await site_rows(core.db, sent.id)
    clock.advance(hours=3, minutes=10)
    first = await press_ack(core, who("acme-am"), rows["lisbon"])
    second = await press_ack(core, who("acme-tl", "teams"), rows["lisbon"])
    assert "acknowledged for Lisbon" in first.reply.title
    assert "already acknowledged" in second.reply.title and "Joana Silva" in second.reply.summary
    items = await outbox(core.db)
    updates = [r for r in items if r.update_of]
    # one update of acme's card and one of the client's copy per platform; the second press enqueued nothing
    assert sorted((r.destination, r.update_of) for r in updates) == sorted([
        ("C0ACMEANNOUNCE", f"announcement:{sent.id}:card:{world.partners['acme'].id}@slack:C0ACMEANNOUNCE"),
        ("acme-announcements",
         f"announcement:{sent.id}:card:{world.partners['acme'].id}@teams:acme-announcements"),
        ("C0CXANNOUNCE", f"announcement:{sent.id}:copy@slack:C0CXANNOUNCE"),
        ("cx-announcements", f"announcement:{sent.id}:copy@teams:cx-announcements")])
    card = latest(items, "C0ACMEANNOUNCE")
    assert card.summary.startswith("1 of 2 sites acknowledged")
    assert "Lisbon: acknowledged by Joana Silva, Mon 16 Nov 14:10 after 3h 10m" in str(card)
    assert [a.label for a in card.actions] == ["Acknowledge: Kraków", "Have a question"]
    # three more sites: the client's copy reads "4 of 6"
    await press_ack(core, who("acme-tl"), rows["krakow"])
    await press_ack(core, who("northwind-tl"), rows["manila"])
    await press_ack(core, who("initech-tl"), rows["cali"])
    copy = latest(await outbox(core.db), "C0CXANNOUNCE")
    assert copy.summary == "4 of 6 sites acknowledged"
    acme_done = latest(await outbox(core.db), "C0ACMEANNOUNCE")
    assert acme_done.summary == "2 of 2 sites acknowledged" and [a.label for a in acme_done.actions] == [
        "Have a question"]


async def test_two_presses_at_once_one_wins(core, world, who, clock, db_url):
    sent = await announce(core, who)
    row = (await site_rows(core.db, sent.id))["krakow"]
    other = Database(db_url)  # a second replica's connection pool
    try:
        outcomes = await asyncio.gather(
            svc.acknowledge(core.db, site_row_id=row.id, actor=who("acme-tl"), now=clock.now()),
            svc.acknowledge(other, site_row_id=row.id, actor=who("acme-tl", "teams"), now=clock.now()))
    finally:
        await other.dispose()
    assert sorted(o.first for o in outcomes) == [False, True]
    acks = [r for r in await outbox(core.db) if f":ack:{row.id}@" in r.key]
    assert len(acks) == 4  # acme's card and the client copy, on Slack and Teams, once


# ---- reminders and the deadline report -----------------------------------------------------------

async def run_every(core, clock, *, until: datetime, step: timedelta = timedelta(minutes=30)) -> list[tuple]:
    sent = []
    while clock.now() < until:
        clock.advance(step)
        sent += [(clock.now(), key) for key in await job.run(core)]
    return sent


def local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


async def test_reminders_over_two_weeks_in_each_partners_business_hours(core, world, who, clock):
    # sent Monday 16 Nov 11:00 Berlin; due Thursday 26 Nov 02:00 Berlin (01:00 UTC): half-way is Saturday
    # 21 Nov 05:30 UTC, outside Warsaw's and São Paulo's hours but inside Manila's (Mon-Sat 07-22)
    sent = await announce(core, who, ack_date="2026-11-26", ack_time="02:00")
    rows = await site_rows(core.db, sent.id)
    await press_ack(core, who("initech-tl"), rows["medellin"])
    await press_ack(core, who("initech-tl"), rows["cali"])  # initech is done: never reminded
    sent_at = await run_every(core, clock, until=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    await press_ack(core, who("globex-tl"), rows["saopaulo"])  # globex acknowledges after its half-way reminder
    sent_at += await run_every(core, clock, until=datetime(2026, 12, 7, tzinfo=UTC))
    ids = {p.id: p.slug for p in world.partners.values()}
    got = [(at, key) for at, key in sent_at if "reminder" in key]
    expected = [
        (datetime(2026, 11, 21, 5, 30, tzinfo=UTC), "northwind", "half"),  # Sat 13:30 Manila
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "acme", "half"),  # Mon 08:00 Warsaw
        (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), "globex", "half"),  # Mon 09:00 São Paulo
        (datetime(2026, 11, 26, 1, 0, tzinfo=UTC), "northwind", "deadline"),  # Thu 09:00 Manila
        (datetime(2026, 11, 26, 7, 0, tzinfo=UTC), "acme", "deadline"),  # Thu 08:00 Warsaw
    ]
    assert [(at, ids[int(key.split(":")[3])], key.rsplit(":", 1)[-1]) for at, key in got] == expected
    assert local(expected[1][0], "Europe/Warsaw") == "Mon 23 Nov 08:00"
    assert local(expected[0][0], "Asia/Manila") == "Sat 21 Nov 13:30"
    # from the far side: the outbox rows, threaded under each partner's card, in Slack and Teams
    items = await outbox(core.db)
    reminders = [r for r in items if ":reminder:" in r.key]
    assert len(reminders) == 2 * len(expected)
    assert all(r.thread_of == r.key.split(":reminder:")[0] + "@" + r.key.split("@", 1)[1] for r in reminders)
    acme_final = message_from_dict(next(r for r in reminders if r.destination == "C0ACMEANNOUNCE"
                                        and r.key.split("@")[0].endswith("deadline")).payload)
    assert "Kraków, Lisbon" in acme_final.title and "Thu 26 Nov 2026 02:00 CET" in acme_final.summary
    # past the deadline the author gets the missing sites, once
    missing = [r for r in items if r.key == f"announcement:{sent.id}:missing"]
    assert len(missing) == 1 and missing[0].created_at == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    assert missing[0].destination == f"user:{world.user('lead').platform_user_id}"
    report = message_from_dict(missing[0].payload)
    assert report.title == f"{sent.ref}: 3 of 6 sites did not acknowledge by the deadline"
    assert report.sections[0].bullets == ("Acme Contact Solutions / Kraków", "Acme Contact Solutions / Lisbon",
                                          "Northwind BPO / Manila")


async def test_bogota_reminders_wait_for_colombian_business_hours(core, world, who, clock):
    clock.set(datetime(2026, 11, 18, 22, 0, tzinfo=UTC))  # Wednesday 17:00 Bogotá
    # due Friday 20 Nov 23:00 Berlin = 17:00 Bogotá (closing time, end exclusive) -> Monday 08:00 Bogotá;
    # half-way Thursday 22:30 UTC = 17:30 Bogotá -> Friday 08:00 Bogotá
    await announce(core, who, audience="partners", partners=["initech"], ack_date="2026-11-20", ack_time="23:00")
    got = [(at, key) for at, key in await run_every(core, clock, until=datetime(2026, 11, 30, tzinfo=UTC))
           if "reminder" in key]
    assert [local(at, "America/Bogota") for at, _ in got] == ["Fri 20 Nov 08:00", "Mon 23 Nov 08:00"]


async def test_no_reminder_when_no_acknowledgement_is_asked(core, world, who, clock):
    await announce(core, who, requires_ack="no", ack_date="")
    assert await run_every(core, clock, until=datetime(2026, 12, 1, tzinfo=UTC), step=timedelta(hours=2)) == []
    card = latest(await outbox(core.db), "C0ACMEANNOUNCE")
    assert "no acknowledgement asked" in card.summary and all(a.label != "Acknowledge" for a in card.actions)


async def test_two_job_runs_at_the_same_moment_send_once(core, world, who, clock, db_url):
    await announce(core, who)
    clock.set(datetime(2026, 11, 18, 13, 0, tzinfo=UTC))  # half-way for every partner in its hours
    other = Core(db=Database(db_url), settings=Settings(_env_file=None, database_url=db_url), clock=clock)
    try:
        first, second = await asyncio.gather(job.run(core), job.run(other))
        third = await job.run(core)
    finally:
        await other.db.dispose()
    keys = first + second
    assert third == [] and len(keys) == len(set(keys))
    rows = [r for r in await outbox(core.db) if ":reminder:half" in r.key]
    # northwind is Mon-Sat 07-22 Manila (21:00 now), acme 14:00 Warsaw, globex 10:00 São Paulo, initech 08:00 Bogotá
    assert len(rows) == 4 * 2  # four partners, Slack and Teams, once each
    async with core.db.session() as s:
        marks = (await s.exec(select(AnnouncementPartner.half_sent_at))).all()
    assert marks == [clock.now()] * 4


# ---- edits, questions, training ------------------------------------------------------------------

async def test_edit_updates_every_card_and_tells_who_acknowledged(core, world, who, clock):
    sent = await announce(core, who)
    rows = await site_rows(core.db, sent.id)
    await press_ack(core, who("acme-tl"), rows["krakow"])
    await press_ack(core, who("northwind-tl", "teams"), rows["manila"])
    form = await dispatch(core, text=f"announce edit {sent.ref}", actor=who("lead"), platform="slack")
    assert isinstance(form, OpenForm) and form.form.state == str(sent.id)
    assert {f.id: f.initial for f in form.form.fields}["effective_date"] == "2026-11-23"
    assert "audience" not in {f.id for f in form.form.fields}
    refused = await dispatch(core, text=f"announce edit {sent.ref}", actor=who("acme-tl"), platform="slack")
    assert isinstance(refused, Message) and "only client managers" in refused.text.lower()
    clock.advance(hours=5)
    before = len(await outbox(core.db))
    edited = await handle_form(core, Submission(FormId.ANNOUNCEMENT, {
        **GOOD, "effective_date": "2026-11-24", "ack_date": "2026-11-25"}, who("lead"), state=str(sent.id)))
    assert edited.errors is None
    assert edited.extra["changes"] == ["Effective: Mon 23 Nov 2026 08:00 CET -> Tue 24 Nov 2026 08:00 CET",
                                       "Acknowledge by: Fri 20 Nov 2026 17:00 CET -> Wed 25 Nov 2026 17:00 CET"]
    new = (await outbox(core.db))[before:]
    updated = {r.destination for r in new if r.update_of}
    assert updated == {"C0ACMEANNOUNCE", "acme-announcements", "C0GLXREPORT", "globex-reports", "C0NWREPORT",
                       "northwind-reports", "C0INITREPORT", "initech-reports", "C0CXANNOUNCE", "cx-announcements"}
    manila_card = latest(new, "C0NWREPORT")
    facts = {f.label: f.value for s in manila_card.sections for f in s.facts}
    assert facts["Effective"] == "Tue 24 Nov 2026 15:00 PST" and "edit 1" in facts["Edited"]
    assert "Manila: acknowledged by Maria Santos" in str(manila_card)  # acknowledgements survive the edit
    dms = [r for r in new if r.destination.startswith("user:")]
    assert sorted((r.platform, r.destination) for r in dms) == [
        ("slack", f"user:{world.user('acme-tl').platform_user_id}"),
        ("teams", f"user:{world.user('northwind-tl', 'teams').platform_user_id}")]
    manila_dm = message_from_dict(next(r for r in dms if r.platform == "teams").payload)
    assert "changed after you acknowledged" in manila_dm.title
    assert "Effective: now Tue 24 Nov 2026 15:00 PST" in manila_dm.sections[0].bullets
    # the reminders follow the new deadline
    async with core.db.session() as s:
        acme_delivery = (await s.exec(select(AnnouncementPartner).where(
            AnnouncementPartner.partner_id == world.partners["acme"].id))).one()
    assert acme_delivery.deadline_due_at == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    # saving the same values again changes nothing and tells nobody
    again = await handle_form(core, Submission(FormId.ANNOUNCEMENT, {
        **GOOD, "effective_date": "2026-11-24", "ack_date": "2026-11-25"}, who("lead"), state=str(sent.id)))
    assert again.extra["changes"] == [] and again.extra["told"] == 0


async def test_have_a_question_opens_a_thread_and_tells_the_author(core, world, who, clock):
    sent = await announce(core, who)
    acme_id = world.partners["acme"].id
    value = f"an-partner:{sent.id}:{acme_id}"
    opened = await handle_action(core, Press(ActionId.ANNOUNCEMENT_QUESTION, value, who("acme-am")))
    assert opened.open_form is not None and opened.open_form.form.state == f"{sent.id}:{acme_id}"
    for stranger in ("globex-tl", "lead"):
        refused = await handle_action(core, Press(ActionId.ANNOUNCEMENT_QUESTION, value, who(stranger)))
        assert refused.open_form is None and refused.reply is not None
    answer = await handle_form(core, Submission(FormId.ANNOUNCEMENT_QUESTION, {
        "question": "Does the <new> screen replace refunds over 500 EUR too?"}, who("acme-am"),
        state=f"{sent.id}:{acme_id}"))
    assert "sent" in answer.reply.title
    forged = await handle_form(core, Submission(FormId.ANNOUNCEMENT_QUESTION, {"question": "x"}, who("globex-tl"),
                                                state=f"{sent.id}:{acme_id}"))
    assert "not addressed to you" in forged.reply.text
    items = [r for r in await outbox(core.db) if ":question:" in r.key]
    threaded = [r for r in items if r.thread_of]
    assert {r.destination for r in threaded} == {"C0ACMEANNOUNCE", "acme-announcements"}
    assert all(r.thread_of.startswith(f"announcement:{sent.id}:card:{acme_id}@") for r in threaded)
    to_author = [r for r in items if r.destination.startswith("user:")]
    assert [r.destination for r in to_author] == [f"user:{world.user('lead').platform_user_id}"]
    assert "500 EUR" in message_from_dict(to_author[0].payload).summary


async def test_training_done_per_site_with_the_ingested_kpi(core, world, who, clock):
    sent = await announce(core, who, requires_training="yes", training_date="2026-11-27")
    acme_id = world.partners["acme"].id
    rows = await site_rows(core.db, sent.id)
    async with core.db.transaction() as s:
        for day, num in ((17, 40), (18, 50)):
            s.add(Measurement(partner_id=acme_id, site_id=rows["krakow"].site_id, scope_site=rows["krakow"].site_id,
                              channel="voice", metric="training_completion",
                              period_start=datetime(2026, 11, day, tzinfo=UTC),
                              period_end=datetime(2026, 11, day + 1, tzinfo=UTC), num=num, den=50,
                              ingested_at=clock.now()))
    value = f"an-partner:{sent.id}:{acme_id}"
    form = await handle_action(core, Press(ActionId.ANNOUNCEMENT_TRAINING, value, who("acme-am")))
    site_field = form.open_form.form.fields[0]
    assert [o.label for o in site_field.options] == ["Lisbon"]  # Lisbon's lead marks Lisbon only
    form = await handle_action(core, Press(ActionId.ANNOUNCEMENT_TRAINING, value, who("acme-tl")))
    assert [o.label for o in form.open_form.form.fields[0].options] == ["Kraków", "Lisbon"]
    bad = await handle_form(core, Submission(FormId.ANNOUNCEMENT_TRAINING, {"site": str(rows["krakow"].id),
                                                                             "agents": "4.5"}, who("acme-tl")))
    assert "whole number" in bad.errors.errors["agents"]
    lisbon_lead = await handle_form(core, Submission(FormId.ANNOUNCEMENT_TRAINING, {
        "site": str(rows["krakow"].id), "agents": "42"}, who("acme-am")))
    assert "Kraków's team" in lisbon_lead.reply.text
    done = await handle_form(core, Submission(FormId.ANNOUNCEMENT_TRAINING, {
        "site": str(rows["krakow"].id), "agents": "42"}, who("acme-tl")))
    assert "42 agents" in done.reply.summary
    card = latest(await outbox(core.db), "C0ACMEANNOUNCE")
    text = str(card)
    assert "Kraków: waiting for acknowledgement; training done, 42 agents trained; training completion 90% (ingested)" \
        in text
    assert "Lisbon: waiting for acknowledgement; training not marked done" in text
    assert "Training done" in [a.label for a in card.actions]


# ---- list, show, Home, digest and QBR ---------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_list_and_show_only_what_is_addressed_to_the_viewer(core, world, who, name):
    acme_only = await announce(core, who, audience="partners", partners=["acme"], title="Acme only change")
    everyone = await announce(core, who, title="Everyone change")
    listing = str(await dispatch(core, text="announce list all", actor=who(name), platform="slack"))
    show = await dispatch(core, text=f"announce show {acme_only.ref}", actor=who(name), platform="slack")
    show_all = await dispatch(core, text=f"announce {everyone.ref}", actor=who(name), platform="slack")
    if name == "unknown":
        assert "not set up in Liaison" in listing and "not set up" in show.text
        return
    assert "Everyone change" in listing
    if name == "globex-tl":
        assert "Acme only change" not in listing and f"There is no announcement {acme_only.ref} you can see" in show.text
        assert "São Paulo" in str(show_all) and "Kraków" not in str(show_all) and "Acme" not in str(show_all)
        assert show_all.summary.startswith("0 of 1 site acknowledged")
        assert [a.label for a in show_all.actions] == ["Acknowledge", "Have a question"]  # its own card
    else:
        assert "Acme only change" in listing and acme_only.ref in show.title
    if name in ("lead", "admin"):
        assert show_all.summary == "0 of 6 sites acknowledged" and "Initech Colombia / Cali" in str(show_all)


async def test_list_open_hides_fully_acknowledged(core, world, who):
    sent = await announce(core, who, audience="sites", sites=["acme/krakow"], title="Krakow only")
    other = await announce(core, who, audience="sites", sites=["acme/lisbon"], title="Lisbon only")
    await press_ack(core, who("acme-tl"), (await site_rows(core.db, sent.id))["krakow"])
    open_list = str(await dispatch(core, text="announce list", actor=who("lead"), platform="slack"))
    assert other.ref in open_list and f"{sent.ref} " not in open_list
    assert sent.ref in str(await dispatch(core, text="announce list all", actor=who("lead"), platform="slack"))


async def test_home_shows_partners_what_waits_and_clients_the_open_rollouts(core, world, who):
    assert svc.home_section in HOME_SECTIONS
    sent = await announce(core, who)
    acme_home = str(await home_message(core, who("acme-tl")))
    lisbon_home = str(await home_message(core, who("acme-am")))
    lead_home = str(await home_message(core, who("lead")))
    assert f"{sent.ref} Refunds move to the new CRM screen for Kraków" in acme_home
    assert "for Lisbon, by Fri 20 Nov 2026 17:00 CET" in acme_home
    assert "for Lisbon" in lisbon_home and "for Kraków" not in lisbon_home
    assert f"{sent.ref} Refunds move to the new CRM screen: 0 of 6 sites acknowledged" in lead_home
    for slug in ("krakow", "lisbon"):
        await press_ack(core, who("acme-tl"), (await site_rows(core.db, sent.id))[slug])
    assert "No announcement is waiting for your acknowledgement" in str(await home_message(core, who("acme-tl")))


async def test_digest_and_qbr_lines_count_rollouts_per_audience(core, world, who, clock):
    assert svc.digest_lines in DIGEST_CHANGES and svc.pack_lines in PACK_FEEDBACK
    sent = await announce(core, who)
    rows = await site_rows(core.db, sent.id)
    clock.advance(hours=2)
    await press_ack(core, who("acme-tl"), rows["krakow"])
    await press_ack(core, who("northwind-tl"), rows["manila"])
    clock.advance(hours=4)
    await press_ack(core, who("initech-tl"), rows["cali"])
    clock.set(DEADLINE + timedelta(hours=1))
    await press_ack(core, who("acme-tl"), rows["lisbon"])  # late
    start, end = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    partners = [world.partners[s] for s in ("acme", "globex", "initech", "northwind")]
    async with core.db.session() as s:
        portfolio = await svc.digest_lines(s, partners, start, end, True)
        acme = await svc.digest_lines(s, [world.partners["acme"]], start, end, False)
        pack = await svc.pack_lines(s, world.partners["acme"], start, end)
        quiet = await svc.pack_lines(s, world.partners["globex"], end, end + timedelta(days=90))
    assert portfolio == ["Announcements: 1 change rolled out, 50% of sites acknowledged on time (3 of 6), mean time "
                         "to acknowledge 1d 4h; missed: Acme Contact Solutions / Lisbon (AN-1), Globex CX / São Paulo "
                         "(AN-1), Initech Colombia / Medellín (AN-1)"]
    # acme's own digest: its sites only, no other partner named
    assert acme == ["Announcements: 1 change rolled out, 50% of sites acknowledged on time (1 of 2), mean time to "
                    "acknowledge 2d 4h; missed: Lisbon (AN-1)"]
    assert pack == ["Changes rolled out: 1", "Acknowledged on time: 1 of 2 site acknowledgements (50%)",
                    "Mean time to acknowledge: 2d 4h", "Sites that missed a deadline: Lisbon (AN-1)"]
    assert quiet == ["Changes rolled out: none this quarter."]



# ---- portfolio scale ----------------------------------------------------------------------------

async def test_client_copy_and_form_fit_both_platforms_at_portfolio_size(core, db, make_partner, make_user):
    """30 partners with 3 sites each: the client copy lists all 90 sites within Slack's and Teams' limits;
    six more partners take the sites past a select's 100 options, and the form asks for typed keys instead."""
    from adapters.slack.blockkit import MAX_BLOCKS, MAX_TEXT, form_view, render_message
    from adapters.teams.adaptive_card import MAX_BYTES, render_card, render_form, size

    for i in range(30):
        await make_partner(f"partner{i:02d}", name=f"Partner Number {i:02d} Contact Centres",
                           tz="Europe/Warsaw", sites=("north", "south", "east"))
    lead = await make_user("lead-console", role="client")
    form = await dispatch(core, text="announce", actor=lead, platform="console")
    assert len(next(f for f in form.form.fields if f.id == "sites").options) == 90
    form_view(form.form)  # builds within Slack's view limits (it clips options at 100)
    assert size(render_form(form.form)) <= MAX_BYTES
    result = await handle_form(core, Submission(FormId.ANNOUNCEMENT, GOOD, lead))
    assert result.errors is None
    async with db.session() as s:
        announcement = await s.get(Announcement, result.extra["announcement_id"])
        copy = await svc.client_copy(s, announcement)
    assert copy.summary == "0 of 90 sites acknowledged"
    slack = render_message(copy)
    assert len(slack["blocks"]) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_TEXT for b in slack["blocks"])
    shown = "".join(b.get("text", {}).get("text", "") for b in slack["blocks"])
    assert all(f"Partner Number {i:02d} Contact Centres / East: waiting" in shown for i in range(30))
    card = render_card(copy)
    assert size(card) <= MAX_BYTES
    texts = " ".join(str(b.get("text", "")) for b in walk(card))
    # every site is on the card, or the card says how many it left out (never silently)
    missing = [i for i in range(30) if f"Partner Number {i:02d} Contact Centres / East" not in texts]
    assert not missing, f"{len(missing)} partners left off the Teams card"
    for i in range(30, 36):
        await make_partner(f"partner{i:02d}", tz="Asia/Manila", sites=("north", "south"))
    form = await dispatch(core, text="announce", actor=lead, platform="console")
    sites = next(f for f in form.form.fields if f.id == "sites")
    assert sites.kind.value == "text" and "102 to choose from" in sites.hint
    typed = await handle_form(core, Submission(FormId.ANNOUNCEMENT, {
        **GOOD, "audience": "sites", "sites": "partner34/south, partner00/north"}, lead))
    assert typed.errors is None and "2 sites of 2 partners" in typed.reply.title


def walk(node: object) -> list[dict]:
    if isinstance(node, dict):
        return [node] + [d for v in node.values() for d in walk(v)]
    if isinstance(node, list):
        return [d for v in node for d in walk(v)]
    return []


async def test_announce_ack_typed_for_the_sites_one_acts_for(core, world, who):
    sent = await announce(core, who)
    lisbon_lead = who("acme-am")
    wrong = await dispatch(core, text=f"announce ack {sent.ref} krakow", actor=lisbon_lead, platform="slack")
    assert "You can acknowledge AN-1 for: lisbon" in wrong.text
    ok = await dispatch(core, text=f"announce ack {sent.ref}", actor=lisbon_lead, platform="slack")
    assert ok.title == "AN-1 acknowledged for Lisbon"
    again = await dispatch(core, text=f"announce ack {sent.ref} Lisbon", actor=who("acme-tl"), platform="slack")
    assert "already acknowledged" in again.title
    for name in ("lead", "admin"):
        refused = await dispatch(core, text=f"announce ack {sent.ref} krakow", actor=who(name), platform="slack")
        assert "site's own team" in refused.text
    hidden = await announce(core, who, audience="partners", partners=["acme"])
    nothing = await dispatch(core, text=f"announce ack {hidden.ref}", actor=who("globex-tl"), platform="slack")
    assert f"no announcement {hidden.ref} you can see" in nothing.text
    rows = await site_rows(core.db, sent.id)
    assert [k for k, r in sorted(rows.items()) if r.acknowledged_at] == ["lisbon"]


async def test_list_dates_are_in_the_viewers_zone(core, world, who, clock):
    clock.set(datetime(2026, 11, 15, 23, 30, tzinfo=UTC))  # Mon 00:30 Berlin, Mon 07:30 Manila, Sun 20:30 São Paulo
    sent = await announce(core, who)
    for name, day in (("lead", "2026-11-16"), ("northwind-tl", "2026-11-16"), ("globex-tl", "2026-11-15")):
        listing = await dispatch(core, text="announce list", actor=who(name), platform="slack")
        assert f"{sent.ref} Refunds move to the new CRM screen · CRM/tooling change · sent {day} ·" in \
            listing.sections[0].bullets[0], name


async def test_two_sites_acknowledged_at_once_the_last_card_update_shows_both(core, world, who, clock, db_url):
    """Each card update renders the whole card; of two acknowledgements at once the later one sees the other."""
    for _ in range(3):
        sent = await announce(core, who, audience="partners", partners=["acme"])
        rows = await site_rows(core.db, sent.id)
        other = Database(db_url)
        try:
            await asyncio.gather(
                svc.acknowledge(core.db, site_row_id=rows["krakow"].id, actor=who("acme-tl"), now=clock.now()),
                svc.acknowledge(other, site_row_id=rows["lisbon"].id, actor=who("acme-am"), now=clock.now()))
        finally:
            await other.dispose()
        items = [r for r in await outbox(core.db) if r.key.startswith(f"announcement:{sent.id}:")]
        # the delivery worker sends in id order: the last update of each card is what stays on screen
        assert latest(items, "C0ACMEANNOUNCE").summary == "2 of 2 sites acknowledged"
        assert latest(items, "C0CXANNOUNCE").summary == "2 of 2 sites acknowledged"


async def test_extending_a_passed_deadline_reminds_and_reports_again(core, world, who, clock):
    sent = await announce(core, who, audience="partners", partners=["acme"])
    await run_every(core, clock, until=DEADLINE + timedelta(hours=1))
    first = [r.key.split("@")[0] for r in await outbox(core.db) if ":reminder:" in r.key or r.key.endswith(":missing")]
    assert sorted(set(first)) == [f"announcement:{sent.id}:card:{world.partners['acme'].id}:reminder:deadline",
                                  f"announcement:{sent.id}:card:{world.partners['acme'].id}:reminder:half",
                                  f"announcement:{sent.id}:missing"]
    # the lead gives the sites until next Wednesday 17:00 (16:00 UTC)
    await handle_form(core, Submission(FormId.ANNOUNCEMENT, {**GOOD, "ack_date": "2026-11-25"}, who("lead"),
                                       state=str(sent.id)))
    await run_every(core, clock, until=datetime(2026, 11, 26, tzinfo=UTC))
    keys = [r.key.split("@")[0] for r in await outbox(core.db) if r.created_at > DEADLINE + timedelta(hours=1)
            and (":reminder:" in r.key or ":missing" in r.key)]
    assert sorted(set(keys)) == [f"announcement:{sent.id}:card:{world.partners['acme'].id}:reminder:deadline:1",
                                 f"announcement:{sent.id}:missing:1"]


async def test_a_partner_without_sites_is_one_recipient_its_leads_acknowledge(core, db, make_partner, make_user):
    bare = await make_partner("bare", name="Bare Outsourcing", tz="America/Bogota", sites=())
    lead = await make_user("lead-console", role="client")
    site_lead = await make_user("bare-site", role="partner", partner=bare, capabilities=("site:anywhere",))
    partner_lead = await make_user("bare-lead", role="partner", partner=bare)
    result = await handle_form(core, Submission(FormId.ANNOUNCEMENT, GOOD, lead))
    assert "1 site of 1 partner" in result.reply.title
    async with db.session() as s:
        (row,) = (await s.exec(select(AnnouncementSite))).all()
        announcement = await s.get(Announcement, result.extra["announcement_id"])
        card = await svc.partner_card(s, announcement, bare)
    assert (row.site_id, row.site_name) == (None, "Bare Outsourcing")
    assert [a.label for a in card.actions] == ["Acknowledge", "Have a question"]
    refused = await press_ack(core, site_lead, row)  # tied to a site, so not speaking for the whole partner
    assert refused.replace is None
    done = await press_ack(core, partner_lead, row)
    assert done.replace.summary == "1 of 1 site acknowledged"
    assert "Bare Outsourcing: acknowledged by bare-lead" in str(done.replace)
