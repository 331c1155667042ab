"""Reverse reports through the core: authorization matrix, the form, acknowledgement, reminders, nudges, measures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.domain.reports import in_nudge_hours
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import FormErrors, Message, OpenForm
from bot.messages_codec import message_from_dict
from bot.services import reports as svc
from bot.services.digest import DIGEST_CHANGES
from bot.services.home import HOME_SECTIONS, home_message
from bot.services.qbr import PACK_FEEDBACK
from bot.settings import Settings
from bot.store.outbox import OutboxItem
from bot.store.reports import ReportNudge, ReverseReport
from jobs import reports as job
from tests.escalation_world import UNKNOWN, make_world

ACTORS = ("lead", "acme-tl", "globex-tl", "admin", "unknown")
GOOD = {"partner": "acme", "kind": "process_issue", "rating": "2",
        "text": "Three booked meetings last week had no decision maker.", "link": "https://crm.example/q/1"}


@pytest.fixture
async def world(db):
    return await make_world(db)


@pytest.fixture
def core(db, clock) -> Core:
    return Core(db=db, settings=Settings(database_url=db.url), clock=clock)


@pytest.fixture
def who(world):
    def actor(name: str, platform: str = "slack"):
        return UNKNOWN if name == "unknown" else world.actor(name, platform)
    return actor


async def submit(core, actor, **changes) -> object:
    return await handle_form(core, Submission(FormId.REVERSE_REPORT, {**GOOD, **changes}, actor))


async def send(core, who, name: str = "lead", **changes) -> ReverseReport:
    result = await submit(core, who(name), **changes)
    assert result.errors is None, result.errors
    async with core.db.session() as s:
        return await s.get(ReverseReport, result.extra["report_id"])


async def outbox(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.exec(select(OutboxItem).order_by(OutboxItem.id))).all())


async def reports(db) -> list[ReverseReport]:
    async with db.session() as s:
        return list((await s.exec(select(ReverseReport).order_by(ReverseReport.id))).all())


def is_refusal(reply) -> bool:
    return isinstance(reply, Message) and ("only" in reply.text.lower() or "can't" in reply.text.lower()
                                           or "not set up" in reply.text.lower()
                                           or "that you can see" in reply.text.lower())


# ---- command authorization -------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_report_command_form_only_for_client_side(core, world, who, name):
    for text in ("report", "report acme"):
        reply = await dispatch(core, text=text, actor=who(name), platform="slack")
        if name in ("lead", "admin"):
            assert isinstance(reply, OpenForm), (name, text)
            partner = next(f for f in reply.form.fields if f.id == "partner")
            assert partner.read_only == (text == "report acme")
            assert partner.initial == ("acme" if text == "report acme" else None)
            assert [o.value for o in partner.options] == ["acme", "globex", "northwind"]
        else:
            assert isinstance(reply, Message) and not isinstance(reply, OpenForm)
        if name in ("acme-tl", "globex-tl"):
            assert "from the client to partners" in reply.text and "`feedback`" in reply.text
        if name == "unknown":
            assert "not set up in Liaison" in reply.text


async def test_report_command_takes_a_partner_name_with_spaces(core, world, who):
    reply = await dispatch(core, text="report Acme Contact Solutions", actor=who("lead"), platform="slack")
    assert isinstance(reply, OpenForm)
    assert next(f for f in reply.form.fields if f.id == "partner").initial == "acme"


async def test_report_command_unknown_partner_suggests(core, world, who):
    reply = await dispatch(core, text="report acem", actor=who("lead"), platform="slack")
    assert isinstance(reply, Message) and "acem" in reply.text
    assert "acme" in str(reply)


async def test_report_form_fields(core, world, who):
    reply = await dispatch(core, text="report", actor=who("lead"), platform="slack")
    fields = {f.id: f for f in reply.form.fields}
    assert list(fields) == ["partner", "kind", "rating", "text", "link"]
    assert [o.value for o in fields["kind"].options] == ["lead_quality", "customer_signal", "qa_calibration",
                                                         "process_issue", "praise"]
    assert not fields["rating"].required and not fields["link"].required and fields["text"].required
    assert sorted(o.value for o in fields["rating"].options) == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("name", ACTORS)
async def test_report_list_and_show_per_partner(core, world, who, name):
    acme = await send(core, who, partner="acme")
    globex = await send(core, who, partner="globex", kind="praise", rating="5")
    listing = await dispatch(core, text="report list", actor=who(name), platform="slack")
    show_acme = await dispatch(core, text=f"report show {acme.ref}", actor=who(name), platform="slack")
    show_globex = await dispatch(core, text=f"report {globex.ref}", actor=who(name), platform="slack")
    list_globex = await dispatch(core, text="report list globex all", actor=who(name), platform="slack")
    text = " ".join(b + " " for s in listing.sections for b in s.bullets)
    if name in ("lead", "admin"):
        assert acme.ref in text and globex.ref in text
        assert acme.ref in show_acme.title and globex.ref in show_globex.title
        assert globex.ref in str(list_globex)
    elif name == "acme-tl":
        assert acme.ref + " " in text and globex.ref + " " not in text
        assert acme.ref in show_acme.title
        assert globex.ref not in show_globex.title and "no reverse report" in show_globex.text.lower()
        assert globex.ref not in str(list_globex) and is_refusal(list_globex)
    elif name == "globex-tl":
        assert globex.ref + " " in text and acme.ref + " " not in text
        assert "no reverse report" in show_acme.text.lower()
    else:
        for reply in (listing, show_acme, show_globex, list_globex):
            assert "not set up in Liaison" in reply.text


async def test_report_list_open_hides_acknowledged(core, world, who, clock):
    first = await send(core, who)
    second = await send(core, who, kind="praise")
    await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{first.id}", who("acme-tl")))
    open_list = str(await dispatch(core, text="report list acme", actor=who("lead"), platform="slack"))
    all_list = str(await dispatch(core, text="report list acme all", actor=who("lead"), platform="slack"))
    assert second.ref in open_list and first.ref + " " not in open_list
    assert first.ref in all_list and second.ref in all_list


async def test_report_bad_subcommand_words_are_explained(core, world, who):
    reply = await dispatch(core, text="report list acme extra", actor=who("lead"), platform="slack")
    assert "extra" in reply.text
    reply = await dispatch(core, text="report show", actor=who("lead"), platform="slack")
    assert "RR-12" in reply.text
    reply = await dispatch(core, text="report show nope", actor=who("lead"), platform="slack")
    assert "RR-12" in reply.text


# ---- the form --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_report_form_submission_authorization(core, world, who, name):
    result = await submit(core, who(name))
    made = await reports(core.db)
    if name in ("lead", "admin"):
        assert result.errors is None and len(made) == 1
    else:
        assert len(made) == 0 and await outbox(core.db) == []
        assert result.reply is not None and ("not set up" in result.reply.text or "`feedback`" in result.reply.text)


@pytest.mark.parametrize(("changes", "field"), [
    ({"partner": "nope"}, "partner"),
    ({"partner": ""}, "partner"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 3001}, "text"),
    ({"link": "crm.example/q/1"}, "link"),
    ({"link": "https://a b"}, "link"),
    ({"rating": "6"}, "rating"),
    ({"rating": "0"}, "rating"),
    ({"rating": "four"}, "rating"),
    ({"kind": "gossip"}, "kind"),
])
async def test_report_form_bad_field_creates_nothing(core, world, who, changes, field):
    result = await submit(core, who("lead"), **changes)
    assert isinstance(result.errors, FormErrors) and field in result.errors.errors
    assert result.errors.errors[field].endswith(".")
    assert await reports(core.db) == [] and await outbox(core.db) == []


async def test_report_form_creates_card_copy_and_reminder_in_one_go(core, world, who, clock):
    result = await submit(core, who("lead"), rating="")
    report = (await reports(core.db))[0]
    assert report.rating is None and report.author_handle == "lead" and report.kind == "process_issue"
    assert report.card_key == f"report:{report.id}:card"
    # Monday 10:00 UTC = 11:00 in Warsaw; two business days on: Wednesday 11:00 Warsaw
    assert report.reminder_due_at == datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    rows = await outbox(core.db)
    assert {(r.platform, r.destination) for r in rows} == {
        ("slack", "C0ACMEREPORT"), ("teams", "acme-reports"), ("slack", "C0CXREPORT"), ("teams", "cx-reports")}
    card = message_from_dict(next(r for r in rows if r.destination == "C0ACMEREPORT").payload)
    assert [(a.id, a.value) for a in card.actions] == [(ActionId.REPORT_ACKNOWLEDGE, f"report:{report.id}")]
    facts = {f.label: f.value for s in card.sections for f in s.facts}
    assert facts["Rating"] == "not rated" and facts["Type"] == "Process issue" and facts["Link"] == GOOD["link"]
    copy = message_from_dict(next(r for r in rows if r.destination == "C0CXREPORT").payload)
    assert copy.actions == ()
    assert report.ref in result.reply.title and "Wed 18 Nov 11:00" in result.reply.summary


async def test_report_card_shows_rating_as_stars_and_number(core, world, who):
    await send(core, who, rating="4", kind="praise")
    row = next(r for r in await outbox(core.db) if r.destination == "C0ACMEREPORT")
    facts = {f.label: f.value for s in message_from_dict(row.payload).sections for f in s.facts}
    assert facts["Rating"] == "★★★★☆ 4/5" and facts["From"] == world.user("lead").name


# ---- acknowledge -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS + ("cx-head", "acme-am"))
async def test_report_acknowledge_authorization(core, world, who, clock, name):
    report = await send(core, who)
    before = len(await outbox(core.db))
    clock.advance(hours=3)
    result = await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{report.id}", who(name)))
    after = (await reports(core.db))[0]
    if name in ("acme-tl", "acme-am", "admin"):
        assert after.acknowledged_at == clock.now() and after.acknowledged_by == who(name).user_id
        assert result.replace is not None and result.replace.actions == ()
        assert "after 3h" in result.replace.summary
    else:
        assert after.acknowledged_at is None and result.replace is None
        assert len(await outbox(core.db)) == before
        assert result.reply is not None


async def test_report_acknowledge_first_wins_and_updates_card_and_dms_sender(core, world, who, clock):
    report = await send(core, who)
    clock.advance(hours=3, minutes=5)
    await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{report.id}", who("acme-tl")))
    clock.advance(minutes=10)
    second = await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{report.id}",
                                             who("acme-am", "teams")))
    assert "already acknowledged" in second.reply.title and world.user("acme-tl").name in second.reply.summary
    after = (await reports(core.db))[0]
    assert after.acknowledged_by == who("acme-tl").user_id
    rows = await outbox(core.db)
    updates = [r for r in rows if r.update_of]
    assert {(r.platform, r.update_of) for r in updates} == {
        ("slack", f"{report.card_key}@slack:C0ACMEREPORT"), ("teams", f"{report.card_key}@teams:acme-reports")}
    card = message_from_dict(updates[0].payload)
    assert card.actions == () and f"Acknowledged by {world.user('acme-tl').name} after 3h 5m" in card.summary
    dms = [r for r in rows if r.destination.startswith("user:")]
    assert [(d.platform, d.destination) for d in dms] == [("slack", f"user:{world.user('lead').platform_user_id}")]
    assert "acknowledged" in message_from_dict(dms[0].payload).title


async def test_report_acknowledge_unknown_report_or_bad_value(core, world, who):
    gone = await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, "report:999", who("acme-tl")))
    assert "RR-999" in gone.reply.text
    bad = await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, "report:x", who("acme-tl")))
    assert "no reverse report" in bad.reply.text


# ---- reminders -------------------------------------------------------------------------------

async def run_hourly(core, clock, hours: int) -> list[tuple[datetime, str]]:
    sent = []
    for _ in range(hours):
        clock.advance(hours=1)
        sent += [(clock.now(), key) for key in await job.run(core)]
    return sent


async def test_reminder_once_after_two_partner_business_days_not_when_acknowledged(core, world, who, clock):
    clock.set(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))  # Friday 14:00 in Warsaw
    left = await send(core, who)
    seen = await send(core, who, kind="praise")
    await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{seen.id}", who("acme-tl")))
    sent = [(at, key) for at, key in await run_hourly(core, clock, 24 * 14) if "reminder" in key]
    # Tuesday 14:00 Warsaw = 13:00 UTC; one reminder per report, never for the acknowledged one
    assert sent == [(datetime(2026, 11, 24, 13, 0, tzinfo=UTC), f"report:{left.id}:reminder")]
    assert (await reports(core.db))[0].reminder_sent_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    rows = [r for r in await outbox(core.db) if r.key.startswith(f"report:{left.id}:reminder")]
    assert {(r.platform, r.destination) for r in rows} == {("slack", "C0ACMEREPORT"), ("teams", "acme-reports")}
    assert all(r.thread_of == f"{left.card_key}@{r.platform}:{r.destination}" for r in rows)
    reminder = message_from_dict(rows[0].payload)
    assert reminder.actions[0].value == f"report-reminder:{left.id}"
    # pressing the reminder's button acknowledges the report and edits the reminder, not into the card
    pressed = await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, reminder.actions[0].value,
                                              who("acme-tl")))
    assert pressed.replace.actions == () and pressed.replace.title == f"{left.ref} acknowledged"
    assert (await reports(core.db))[0].acknowledged_by == who("acme-tl").user_id


async def test_reminder_in_manila_follows_manila_days(core, world, who, clock):
    clock.set(datetime(2026, 11, 20, 20, 0, tzinfo=UTC))  # Saturday 04:00 in Manila
    report = await send(core, who, partner="northwind")
    assert report.reminder_due_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # Wednesday 00:00 Manila
    assert await svc.send_reminders(core.db, now=datetime(2026, 11, 24, 15, 59, tzinfo=UTC)) == []
    assert await svc.send_reminders(core.db, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == [
        f"report:{report.id}:reminder"]
    assert await svc.send_reminders(core.db, now=datetime(2026, 11, 24, 17, 0, tzinfo=UTC)) == []


# ---- nudges ----------------------------------------------------------------------------------

def nudges(sent: list[tuple[datetime, str]]) -> list[tuple[datetime, str, int]]:
    out = []
    for at, key in sent:
        if key.startswith("report-nudge:"):
            _, handle, partner_id, _day = key.split(":")
            out.append((at, handle, int(partner_id)))
    return out


async def test_nudges_after_two_weeks_on_weekday_hours_once_and_not_after_a_report(core, world, who, clock):
    clock.set(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))  # Saturday: the feature first sees everyone
    assert await job.run(core) == []
    async with core.db.session() as s:
        assert len((await s.exec(select(ReportNudge))).all()) == 2 * 3  # lead, cx-head x 3 partners
    acme, northwind = world.partners["acme"].id, world.partners["northwind"].id
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # lead reports on acme on Wednesday
    await send(core, who, partner="acme")
    sent = nudges(await run_hourly(core, clock, 24 * 21))
    monday_9_berlin = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 14 days end on Saturday 5 Dec
    by_pair: dict[tuple[str, int], list[datetime]] = {}
    for at, handle, pid in sent:
        by_pair.setdefault((handle, pid), []).append(at)
    assert by_pair[("lead", northwind)][0] == monday_9_berlin
    assert by_pair[("cx-head", acme)][0] == monday_9_berlin
    # lead's acme clock restarted with the report: 14 days after Wednesday 13:00 Berlin
    assert by_pair[("lead", acme)][0] == datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    for times in by_pair.values():
        assert all(b - a >= timedelta(days=14) for a, b in zip(times, times[1:], strict=False))
        assert len(times) == 1  # the next one would be 21 Dec, after the window
    assert all(in_nudge_hours(at, "Europe/Berlin") for at, _, _ in sent)
    assert len(by_pair) == 6


async def test_nudge_goes_to_one_identity_as_a_dm(core, world, who, clock):
    clock.set(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    await job.run(core)
    clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=UTC))  # Monday 11:00 Berlin, exactly 14 days later
    keys = await job.run(core)
    assert len([k for k in keys if k.startswith("report-nudge:lead:")]) == 3
    assert await job.run(core) == []  # same moment again: nothing more
    rows = [r for r in await outbox(core.db) if r.key.startswith("report-nudge:lead:")]
    assert {r.destination for r in rows} == {f"user:{world.user('lead').platform_user_id}"}
    message = message_from_dict(rows[0].payload)
    assert "report " in message.summary and "Anything to tell" in message.title


async def test_nudge_not_sent_at_night_in_client_timezone(core, world, who, clock):
    clock.set(datetime(2026, 11, 2, 20, 0, tzinfo=UTC))
    await job.run(core)
    clock.set(datetime(2026, 11, 16, 20, 0, tzinfo=UTC))  # Monday 21:00 Berlin
    assert await job.run(core) == []
    clock.set(datetime(2026, 11, 17, 7, 59, tzinfo=UTC))  # Tuesday 08:59 Berlin
    assert await job.run(core) == []
    clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=UTC))
    assert len(await job.run(core)) == 6


# ---- digest, QBR pack, Home ------------------------------------------------------------------

async def test_digest_and_pack_lines(core, world, who, clock):
    assert svc.digest_lines in DIGEST_CHANGES and svc.pack_lines in PACK_FEEDBACK
    assert svc.home_section in HOME_SECTIONS
    start = clock.now()
    praise = await send(core, who, kind="praise", rating="5")
    issue = await send(core, who, kind="process_issue", rating="2")
    await send(core, who, partner="globex", kind="praise", rating="4")
    clock.advance(hours=5, minutes=10)
    await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{praise.id}", who("acme-tl")))
    end = clock.now() + timedelta(days=1)
    acme, globex = world.partners["acme"], world.partners["globex"]
    async with core.db.session() as s:
        one = await svc.digest_lines(s, [acme], start, end, False)
        both = await svc.digest_lines(s, [acme, globex], start, end, True)
        pack = await svc.pack_lines(s, acme, start, end)
        empty = await svc.pack_lines(s, world.partners["northwind"], start, end)
    assert one == ["2 reverse reports received (1 praise, 1 process issue), 1 acknowledged; "
                   "mean time to acknowledge 5h 10m"]
    assert both == [f"{acme.name}: {one[0]}", f"{globex.name}: 1 reverse report received (1 praise), 0 acknowledged"]
    assert pack == ["Reverse reports: 2 (1 praise, 1 process issue)", "Average rating: 3.5/5",
                    "Acknowledged: 1 of 2 (50%)", "Mean time to acknowledge: 5h 10m"]
    assert empty == ["Reverse reports: none this quarter."]
    assert issue.acknowledged_at is None


async def test_home_shows_partner_open_reports_and_client_quiet_partners(core, world, who, clock):
    report = await send(core, who)
    acme_home = str(await home_message(core, who("acme-tl")))
    globex_home = str(await home_message(core, who("globex-tl")))
    lead_home = await home_message(core, who("lead"))
    assert report.ref in acme_home and report.ref not in globex_home
    assert "sent Mon 16 Nov 11:00" in acme_home  # Warsaw time
    quiet = next(s for s in lead_home.sections if s.heading == "Partners you have not reported on for 2 weeks")
    assert [b.split(" (")[0] for b in quiet.bullets] == [
        world.partners["globex"].name, world.partners["northwind"].name]
    await handle_action(core, Press(ActionId.REPORT_ACKNOWLEDGE, f"report:{report.id}", who("acme-tl")))
    assert report.ref not in str(await home_message(core, who("acme-tl")))


async def test_report_acknowledge_two_presses_at_once_one_wins(core, world, who, clock):
    report = await send(core, who)
    outcomes = await asyncio.gather(
        svc.acknowledge(core.db, report_id=report.id, actor=who("acme-tl"), now=clock.now()),
        svc.acknowledge(core.db, report_id=report.id, actor=who("acme-am"), now=clock.now()))
    assert sorted(o.first for o in outcomes) == [False, True]
    winner = next(o for o in outcomes if o.first)
    assert all(o.report.acknowledged_by == winner.report.acknowledged_by for o in outcomes)
    dms = [r for r in await outbox(core.db) if r.key.endswith(":ack-dm")]
    assert len(dms) == 1
