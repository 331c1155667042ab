"""Feedback pulses through the core: job timing, one DM per person, anonymity, authorization, results, measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from adapters.cli.demo_feedback import show_pulse
from adapters.console.gateway import PreviewGateway
from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import Message, OpenForm
from bot.messages_codec import message_from_dict
from bot.services import feedback as svc
from bot.services.digest import DIGEST_CHANGES
from bot.services.home import HOME_SECTIONS, home_message
from bot.services.qbr import PACK_FEEDBACK
from bot.settings import Settings
from bot.store.feedback import FeedbackResponse, Pulse, PulseInvite
from bot.store.models import Partner, User
from bot.store.outbox import OutboxItem
from bot.store.policy import PartnerPolicy
from jobs import feedback as job
from tests.escalation_world import UNKNOWN, make_world

ACTORS = ("lead", "acme-tl", "globex-tl", "admin", "unknown")
EXTRA = (("acme-qa", "Quinn Anonymous", ("teams", "console")), ("acme-ops", "Olga Ops", ("console",)),
         ("acme-sup", "Sam Super", ("slack",)))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def world(db):
    w = await make_world(db)
    async with db.transaction() as s:  # three more acme people: Teams+console, console only, Slack only
        for handle, name, platforms in EXTRA:
            for platform in platforms:
                s.add(User(platform=platform, platform_user_id=f"{platform}-{handle}", name=name, role="partner",
                           partner_id=w.partners["acme"].id, handle=handle))
    async with db.session() as s:
        w._users = list((await s.exec(select(User))).all())
    return w


@pytest.fixture
def core(db, clock) -> Core:
    return Core(db=db, settings=Settings(database_url=db.url), clock=clock)


@pytest.fixture
def who(world):
    def actor(name: str, platform: str | None = None):
        if name == "unknown":
            return UNKNOWN
        if platform is None:
            platform = next(u.platform for u in world._users if u.handle == name
                            and u.platform in ("slack", "teams", "console"))
        return world.actor(name, platform)
    return actor


async def outbox(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.exec(select(OutboxItem).order_by(OutboxItem.id))).all())


async def rows(db, model) -> list:
    async with db.session() as s:
        return list((await s.exec(select(model).order_by(model.id))).all())


async def set_pulse(db, partner, **document) -> None:
    """Replace a partner's pulse schedule (the example config gives every partner the default one)."""
    async with db.transaction() as s:
        policy = (await s.exec(select(PartnerPolicy).where(PartnerPolicy.kind == "pulse",
                                                           PartnerPolicy.partner_id == partner.id))).one()
        policy.document = document
        s.add(policy)


async def open_round(core, world) -> Pulse:
    await job.run(core)
    pulses = [p for p in await rows(core.db, Pulse) if p.partner_id == world.partners["acme"].id]
    assert pulses, "the job opened no round"
    return pulses[-1]


async def answer(core, actor, pulse: Pulse | None, **values) -> object:
    state = f"pulse:{pulse.id}" if pulse is not None else "adhoc"
    return await handle_form(core, Submission(FormId.FEEDBACK, values, actor, state=state))


# ---- the job: timing, one DM per person, one reminder -------------------------------------------

async def test_round_opens_with_one_dm_per_person_and_commits_invites_with_them(core, world):
    keys = await job.run(core)  # Mon 16 Nov: acme's 2026-11 round (1st, 10:00 Warsaw) is due; first run opens it
    pulse = next(p for p in await rows(core.db, Pulse) if p.partner_id == world.partners["acme"].id)
    keys = [k for k in keys if k.startswith(f"pulse:{pulse.id}:")]
    assert pulse.period == "2026-11" and pulse.anonymous_allowed
    assert pulse.reminder_due_at == core.clock.now() + timedelta(days=3)
    handles = ["acme-am", "acme-ops", "acme-qa", "acme-sup", "acme-tl"]
    assert sorted(i.handle for i in await rows(core.db, PulseInvite) if i.pulse_id == pulse.id) == handles
    assert sorted(keys) == [f"pulse:{pulse.id}:invite:{h}" for h in handles]
    mine = [i for i in await outbox(core.db) if i.key.startswith(f"pulse:{pulse.id}:")]
    sent = {i.key.rsplit(":", 1)[-1]: (i.platform, i.destination) for i in mine}
    assert sent == {"acme-tl": ("slack", "user:U0ACME1"), "acme-am": ("slack", "user:U0ACME2"),
                    "acme-qa": ("teams", "user:teams-acme-qa"), "acme-ops": ("console", "user:console-acme-ops"),
                    "acme-sup": ("slack", "user:slack-acme-sup")}
    dm = message_from_dict(mine[0].payload)
    assert dm.title == "Feedback pulse 2026-11" and dm.actions[0].id is ActionId.FEEDBACK_OPEN_FORM
    assert dm.actions[0].value == f"pulse:{pulse.id}" and "anonymously" in dm.summary
    before = len(await outbox(core.db))
    assert before == 5 + 1 + 1  # northwind-tl and globex-tl get their partners' rounds
    assert await job.run(core) == []  # nothing twice
    assert len(await outbox(core.db)) == before


async def test_timing_over_months_opens_once_per_period_and_reminds_once(core, world, clock):
    # northwind (Manila, UTC+8): quarterly, 2nd at 09:30, remind after 2 days; globex off
    await set_pulse(core.db, world.partners["northwind"], cadence="quarterly", day=2, time="09:30",
                    reminder_after="2d")
    await set_pulse(core.db, world.partners["globex"], enabled=False)
    clock.set(utc("2026-11-16T10:00:00"))
    keys = await job.run(core)
    assert {k.split(":")[2] for k in keys} == {"invite"}
    # northwind's 2026-Q4 round opens late too (2 Oct has passed); acme's 2026-11
    assert sorted(p.period for p in await rows(core.db, Pulse)) == ["2026-11", "2026-Q4"]
    acme_round = next(p for p in await rows(core.db, Pulse) if p.period == "2026-11")
    assert (await answer(core, world.actor("acme-tl"), acme_round, communication="4")).errors is None
    clock.set(utc("2026-11-19T09:59:00"))
    assert [k for k in await job.run(core) if "acme" in k] == []  # acme reminder not due yet
    clock.set(utc("2026-11-19T10:00:00"))
    reminded = [k for k in await job.run(core) if k.startswith(f"pulse:{acme_round.id}:")]
    assert sorted(k.rsplit(":", 1)[-1] for k in reminded) == ["acme-am", "acme-ops", "acme-qa", "acme-sup"]
    assert all(":reminder:" in k for k in reminded)  # acme-tl answered: no reminder
    moments = ["2026-11-20T10:00:00", "2026-11-30T23:00:00", "2026-12-01T08:59:00", "2026-12-01T09:00:00",
               "2026-12-01T09:15:00", "2026-12-04T08:59:00", "2026-12-04T09:00:00", "2026-12-30T12:00:00",
               "2027-01-01T08:59:00", "2027-01-01T09:00:00", "2027-01-02T01:29:00", "2027-01-02T01:30:00",
               "2027-01-04T09:00:00",
               "2027-02-01T09:00:00"]
    log: dict[str, list[str]] = {}
    for moment in moments:
        clock.set(utc(moment))
        log[moment] = sorted(await job.run(core)) + sorted(await job.run(core))  # a second run adds nothing
    pulses = {p.period: p for p in await rows(core.db, Pulse)}
    assert list(pulses) == ["2026-11", "2026-Q4", "2026-12", "2027-01", "2027-Q1", "2027-02"]
    dec, q1, jan = pulses["2026-12"], pulses["2027-Q1"], pulses["2027-01"]
    assert log["2026-12-01T08:59:00"] == []  # 09:59 in Warsaw
    assert dec.opened_at == utc("2026-12-01T09:00:00")  # 10:00 CET
    assert len(log["2026-12-01T09:00:00"]) == 5 and all(":invite:" in k for k in log["2026-12-01T09:00:00"])
    assert log["2026-12-04T08:59:00"] == []
    assert len(log["2026-12-04T09:00:00"]) == 5 and all(":reminder:" in k for k in log["2026-12-04T09:00:00"])
    assert q1.opened_at == utc("2027-01-02T01:30:00")  # 2 Jan 09:30 in Manila
    assert log["2027-01-02T01:29:00"] == [] and log["2027-01-02T01:30:00"] == [f"pulse:{q1.id}:invite:northwind-tl"]
    assert log["2027-01-01T08:59:00"] == [] and jan.opened_at == utc("2027-01-01T09:00:00")
    assert sorted(k.split(":")[2] for k in log["2027-01-04T09:00:00"]) == ["reminder"] * 6  # acme 5, northwind 1
    # due 2 days after it opened (18 Nov 10:00 UTC); the first run after that sends it
    assert pulses["2026-Q4"].reminder_due_at == utc("2026-11-18T10:00:00")
    assert pulses["2026-Q4"].reminder_sent_at == utc("2026-11-19T09:59:00")
    keys = [i.key for i in await outbox(core.db)]
    assert len(keys) == len(set(keys))
    assert sum(":reminder:" in k for k in keys) == 4 + 1 + 5 + 1 + 5  # acme Nov, nw Q4, acme Dec, nw Q1, acme Jan
    assert all(p.reminder_sent_at is not None for p in pulses.values() if p.period != "2027-02")


async def test_disabled_schedule_opens_nothing(core, world):
    for partner in world.partners.values():
        await set_pulse(core.db, partner, enabled=False)
    assert await job.run(core) == []
    assert await rows(core.db, Pulse) == []


# ---- answers and anonymity --------------------------------------------------------------------

async def test_anonymous_answer_stores_no_author_and_second_answer_is_refused(core, world, who):
    pulse = await open_round(core, world)
    result = await answer(core, who("acme-tl"), pulse, communication="5", clarity="4", comment="Clear goals.",
                          anonymous="yes")
    assert result.errors is None and "anonymously" in result.reply.text
    row = (await rows(core.db, FeedbackResponse))[0]
    assert row.anonymous and row.author_handle is None and row.author_name is None
    assert (row.pulse_id, row.communication, row.clarity, row.support, row.tooling) == (pulse.id, 5, 4, None, None)
    invites = {i.handle: i.answered for i in await rows(core.db, PulseInvite)}
    assert invites["acme-tl"] and not invites["acme-am"]
    again = await answer(core, who("acme-tl", "teams"), pulse, communication="1", anonymous="no")
    assert "already answered" in again.reply.text and "`feedback`" in again.reply.text
    assert len(await rows(core.db, FeedbackResponse)) == 1
    adhoc = await answer(core, who("acme-tl"), None, tooling="2", anonymous="no")
    assert adhoc.errors is None
    named = (await rows(core.db, FeedbackResponse))[1]
    assert named.pulse_id is None and named.author_handle == "acme-tl" and named.author_name == "Tomasz Nowak"


async def test_form_validation_stores_nothing(core, world, who):
    pulse = await open_round(core, world)
    empty = await answer(core, who("acme-tl"), pulse, comment="  ", anonymous="yes")
    assert "at least one rating" in empty.errors.errors["comment"]
    bad = await answer(core, who("acme-tl"), pulse, communication="7", clarity="x")
    assert set(bad.errors.errors) == {"communication", "clarity"}
    assert await rows(core.db, FeedbackResponse) == []
    assert not any(i.answered for i in await rows(core.db, PulseInvite))


async def test_results_hide_below_three_and_never_name_anonymous_authors(core, world, who):
    pulse = await open_round(core, world)
    await answer(core, who("acme-tl"), pulse, communication="5", support="4", comment="Secret praise",
                 anonymous="yes")
    await answer(core, who("acme-am"), pulse, communication="3", support="2", comment="Named remark", anonymous="no")
    reply = await dispatch(core, text="feedback results acme", actor=who("lead"), platform="slack")
    text = str(reply)
    assert "2 of 5 answered (40%)" in text and "hidden until 3 answers" in text
    assert "Secret praise" not in text and "Named remark" not in text and "4.0/5" not in text
    await answer(core, who("acme-qa"), pulse, communication="4", support="3", tooling="5", anonymous="yes")
    reply = await dispatch(core, text="feedback results acme 2026-11", actor=who("lead"), platform="slack")
    text = str(reply)
    assert "3 of 5 answered (60%)" in text
    # (5+3+4)/3 and (4+2+3)/3 would give away the two anonymous ratings beside Joana's named 3 and 2
    # (the export lists named ratings): hidden until three people rated the question anonymously
    assert "4.0/5" not in text and "3.0/5" not in text and "hidden until 3 anonymous ratings" in text
    assert "(anonymous) Secret praise" in text and "Joana Silva: Named remark" in text
    for name in ("Tomasz", "Nowak", "acme-tl", "Quinn", "acme-qa"):
        assert name not in text
    lines = await DIGEST_CHANGES[DIGEST_CHANGES.index(svc.digest_lines)](
        await _session(core), [world.partners["acme"]], core.clock.now() - timedelta(days=7),
        core.clock.now() + timedelta(minutes=1), True)
    assert lines == ["Acme Contact Solutions: Feedback pulse 2026-11: 3 of 5 answered (60%); communication "
                     "hidden until 3 anonymous ratings, clarity of goals hidden until 3 ratings, support from the "
                     "client hidden until 3 anonymous ratings, tooling and knowledge base hidden until 3 ratings"]
    pack = await PACK_FEEDBACK[PACK_FEEDBACK.index(svc.pack_lines)](
        await _session(core), world.partners["acme"], utc("2026-10-01T00:00:00"), utc("2027-01-01T00:00:00"))
    assert pack == ["Feedback pulse (2026-11): communication hidden until 3 anonymous ratings, clarity of goals "
                    "hidden until 3 ratings, support from the client hidden until 3 anonymous ratings, tooling and "
                    "knowledge base hidden until 3 ratings",
                    "Response rate: 3 of 5 answered (60%)", "Comments: 2"]
    assert not any(n in " ".join(lines + pack) for n in ("Tomasz", "Quinn", "Joana"))


_sessions: list = []


async def _session(core):
    ctx = core.db.session()
    session = await ctx.__aenter__()
    _sessions.append(ctx)
    return session


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    while _sessions:
        await _sessions.pop().__aexit__(None, None, None)


async def test_digest_hidden_wording_and_adhoc_count(core, world, who):
    pulse = await open_round(core, world)
    await answer(core, who("acme-tl"), pulse, communication="5", anonymous="yes")
    await answer(core, who("acme-am"), None, comment="Ad hoc", anonymous="no")
    lines = await svc.digest_lines(await _session(core), [world.partners["acme"]],
                                   core.clock.now() - timedelta(days=7), core.clock.now() + timedelta(hours=1), False)
    assert lines == ["Feedback pulse 2026-11: 1 of 5 answered (20%); hidden until 3 answers",
                     "1 ad-hoc feedback answer this week"]


async def test_home_tells_a_partner_user_a_pulse_is_waiting(core, world, who):
    assert svc.home_section in HOME_SECTIONS
    pulse = await open_round(core, world)
    home = await home_message(core, who("acme-am"))
    assert "feedback pulse 2026-11 is waiting" in str(home)
    await answer(core, who("acme-am"), pulse, clarity="3", anonymous="yes")
    home = await home_message(core, who("acme-am"))
    assert "feedback pulse 2026-11 is waiting" not in str(home)
    assert "feedback pulse" not in str(await home_message(core, who("lead"))).lower()
    assert "feedback pulse 2026-11 is waiting" in str(await home_message(core, who("globex-tl")))  # their own round


# ---- authorization matrix -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_feedback_command_matrix(core, world, who, name):
    pulse = await open_round(core, world)
    reply = await dispatch(core, text="feedback", actor=who(name), platform="slack")
    if name in ("acme-tl", "globex-tl"):
        assert isinstance(reply, OpenForm)
        fields = [f.id for f in reply.form.fields]
        assert fields == ["communication", "clarity", "support", "tooling", "comment", "anonymous"]
        assert reply.form.fields[0].options[0].label == "5 — very good"
        assert not any(f.required for f in reply.form.fields)
        anon = reply.form.fields[-1]
        assert anon.initial == "yes"
        # each was asked in their partner's open round: the form answers that round
        assert reply.form.state.startswith("pulse:")
        assert (reply.form.state == f"pulse:{pulse.id}") == (name == "acme-tl")
    else:
        assert isinstance(reply, Message)
        if name in ("lead", "admin"):
            assert "partner users" in reply.text and "`report`" in str(reply)
        else:
            assert "not set up in Liaison" in reply.text


@pytest.mark.parametrize("name", ACTORS)
async def test_button_and_form_matrix(core, world, who, name):
    pulse = await open_round(core, world)
    press = await handle_action(core, Press(ActionId.FEEDBACK_OPEN_FORM, f"pulse:{pulse.id}", who(name)))
    result = await answer(core, who(name), pulse, communication="4", anonymous="no")
    stored = await rows(core.db, FeedbackResponse)
    if name == "acme-tl":
        assert press.open_form is not None and press.open_form.form.state == f"pulse:{pulse.id}"
        assert result.errors is None and len(stored) == 1 and stored[0].author_handle == "acme-tl"
        again = await handle_action(core, Press(ActionId.FEEDBACK_OPEN_FORM, f"pulse:{pulse.id}", who(name)))
        assert again.open_form is None and "already answered" in again.reply.text
    else:
        assert press.open_form is None and press.reply is not None
        assert result.reply is not None and stored == []
        assert not any(i.answered for i in await rows(core.db, PulseInvite))
        if name == "globex-tl":
            assert "not one for your team" in press.reply.text


@pytest.mark.parametrize("name", ACTORS)
async def test_results_matrix(core, world, who, name):
    await open_round(core, world)
    own = await dispatch(core, text="feedback results", actor=who(name), platform="slack")
    acme = await dispatch(core, text="feedback results acme", actor=who(name), platform="slack")
    if name in ("lead", "admin"):
        assert "Acme Contact Solutions: pulse 2026-11" in str(own) and "Globex" in str(own)
        assert "0 of 5 answered" in str(acme)
    elif name == "acme-tl":
        assert "Acme Contact Solutions: pulse 2026-11" in str(own) and "Globex" not in str(own)
        assert "0 of 5 answered" in str(acme)
    elif name == "globex-tl":
        assert "Acme" not in str(own) and "Globex" in str(own) and "0 of 1 answered" in str(own)
        assert "0 of 5" not in str(acme) and "pulse 2026-11" not in str(acme)
    else:
        assert "not set up in Liaison" in own.text and "pulse 2026-11" not in str(acme)


async def test_results_bad_input_is_answered_clearly(core, world, who):
    await open_round(core, world)
    typo = await dispatch(core, text="feedback results acem", actor=who("lead"), platform="slack")
    assert "acem" in typo.text and "acme" in str(typo)
    bad = await dispatch(core, text="feedback results acme 2026-13", actor=who("lead"), platform="slack")
    assert "2026-13" in bad.text and "2026-11" in str(bad)
    missing = await dispatch(core, text="feedback results acme 2026-09", actor=who("lead"), platform="slack")
    assert "no feedback pulse for 2026-09" in missing.text and "2026-11" in missing.text
    other = await dispatch(core, text="feedback resutls", actor=who("acme-tl"), platform="slack")
    assert "results" in str(other)


# ---- the demo step -------------------------------------------------------------------------------

async def test_demo_pulse_goes_out_three_answer_and_results_keep_anonymity(db, core):
    await make_world(db)  # the example config, as the demo applies it (not the fixture's extra people)
    preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
    out: list[str] = []
    await show_pulse(core, preview, out.append)
    text = "\n".join(out)
    # the clock fixture is Mon 16 Nov 2026: acme's round opened on Sun 1 Nov 10:00 Warsaw
    assert text.splitlines()[0].startswith("Sun 01 Nov 10:00 (Europe/Warsaw): acme's feedback pulse 2026-11 opens; "
                                           "3 people are asked")
    dms = [d for d, m in preview["slack"].posted if m.title == "Feedback pulse 2026-11"]
    assert sorted(dms) == ["user:U0ACME1", "user:U0ACME2", "user:U0ACME3"]
    assert "Give feedback" in text
    assert text.count("We recorded your answer to the feedback pulse 2026-11") == 3
    results = text.split("lead> feedback results acme", 1)[1]
    assert "3 of 3 answered (100%)" in results
    assert "4.3/5 (3 ratings)" in results  # communication (4+5+4)/3
    assert "3.0/5 (3 ratings)" in results  # clarity (3+4+2)/3
    assert "Tooling and knowledge base: hidden until 3 ratings (2 so far)" in results
    assert "(anonymous) The knowledge base is behind" in results
    assert "(anonymous) Weekly calibration" in results
    assert "Tomasz" not in results and "Ana Quality" not in results and "Joana" not in results



async def test_anonymity_off_in_policy_removes_the_checkbox_and_names_the_answer(core, world, who):
    await set_pulse(core.db, world.partners["globex"], anonymous=False)
    reply = await dispatch(core, text="feedback", actor=who("globex-tl"), platform="slack")
    assert [f.id for f in reply.form.fields] == ["communication", "clarity", "support", "tooling", "comment"]
    await job.run(core)
    pulse = next(p for p in await rows(core.db, Pulse) if p.partner_id == world.partners["globex"].id)
    assert not pulse.anonymous_allowed
    # a forged "anonymous" value is ignored: the policy does not allow it
    result = await answer(core, who("globex-tl"), pulse, support="2", anonymous="yes")
    assert result.errors is None and "with your name" in result.reply.text
    adhoc = await answer(core, who("globex-tl"), None, support="3", anonymous="yes")
    assert "with your name" in adhoc.reply.text
    assert [(r.anonymous, r.author_handle) for r in await rows(core.db, FeedbackResponse)] == [
        (False, "globex-tl"), (False, "globex-tl")]


# ---- CSV export (liaison feedback export) ----------------------------------------------------------

def test_export_cli_keeps_anonymity(db_url, monkeypatch, tmp_path, capsys):
    import asyncio
    import csv
    from pathlib import Path

    import adapters.cli as cli
    from bot.settings import Settings

    monkeypatch.setenv("LIAISON_DATABASE_URL", db_url)
    assert cli.main(["config", "apply", str(Path(__file__).resolve().parents[1] / "liaison.example.yaml")]) == 0

    async def seed() -> None:
        core = Core.from_settings(Settings())
        try:
            async with core.db.transaction() as s:
                acme = (await s.exec(select(Partner).where(Partner.slug == "acme"))).one()
                big = Pulse(partner_id=acme.id, period="2026-10", opened_at=utc("2026-10-01T08:00:00"),
                            reminder_due_at=utc("2026-10-04T08:00:00"))
                small = Pulse(partner_id=acme.id, period="2026-11", opened_at=utc("2026-11-01T09:00:00"),
                              reminder_due_at=utc("2026-11-04T09:00:00"))
                s.add_all([big, small])
                await s.flush()
                at = utc("2026-10-02T10:00:00")
                s.add_all([
                    FeedbackResponse(partner_id=acme.id, pulse_id=big.id, submitted_at=at, anonymous=True,
                                     communication=5, comment="anon in a big round"),
                    FeedbackResponse(partner_id=acme.id, pulse_id=big.id, submitted_at=at, anonymous=False,
                                     author_handle="acme-am", author_name="Joana Silva", communication=3),
                    FeedbackResponse(partner_id=acme.id, pulse_id=big.id, submitted_at=at, anonymous=True, clarity=2),
                    FeedbackResponse(partner_id=acme.id, pulse_id=small.id, submitted_at=utc("2026-11-02T10:00:00"),
                                     anonymous=True, tooling=1, comment="alone, would be identifiable"),
                ])
        finally:
            await core.db.dispose()

    asyncio.run(seed())
    capsys.readouterr()
    out = tmp_path / "acme.csv"
    assert cli.main(["feedback", "export", "--partner", "acme", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "3 answers for acme written to" in said and "1 anonymous answer withheld" in said
    assert "2 anonymous ratings hidden (questions rated anonymously by fewer than 3)" in said
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # each question was rated anonymously once: `feedback results` hides it, so the export does too
    assert [(r["round"], r["anonymous"], r["author"], r["communication"], r["clarity"]) for r in rows] == [
        ("2026-10", "yes", "", "", ""), ("2026-10", "no", "Joana Silva", "3", ""), ("2026-10", "yes", "", "", "")]
    assert "identifiable" not in out.read_text(encoding="utf-8")
    assert cli.main(["feedback", "export", "--partner", "acem"]) == 1
    assert "unknown partner 'acem'; known partners: acme, globex, northwind" in capsys.readouterr().out

