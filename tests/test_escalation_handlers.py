"""The escalate command, buttons and forms: authorization matrix, per-field errors, prefill from a breach."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.actions import ActionId, FormId
from bot.commands import dispatch
from bot.core import Core
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import FormErrors, Message, OpenForm
from bot.services import escalations as svc
from bot.settings import Settings
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation, EscalationEvent
from bot.store.models import Target
from bot.store.outbox import OutboxItem
from tests.escalation_world import UNKNOWN, make_world

ACTORS = ("lead", "acme-tl", "globex-tl", "admin", "unknown")
# who may act on an acme escalation of an ordinary category
ALLOWED = {"lead": True, "acme-tl": True, "globex-tl": False, "admin": True, "unknown": False}


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


@pytest.fixture
def make_escalation(db, world, clock):
    async def make(state: str = "open", category: str = "quality") -> Escalation:
        esc = await svc.file_escalation(db, actor=world.actor("acme-tl"), partner_id=world.partners["acme"].id,
                                        severity="P2", category=category, title="Chat queue unstaffed",
                                        description="Since 09:00 nobody answers chat", now=clock.now())
        lead = world.actor("lead")
        if state in ("acknowledged", "resolved"):
            esc = await svc.acknowledge(db, escalation_id=esc.id, actor=lead, now=clock.now())
        if state == "resolved":
            esc = await svc.resolve(db, escalation_id=esc.id, actor=lead, note="Two agents moved", now=clock.now())
        return esc
    return make


async def counts(db) -> tuple[int, int, int]:
    async with db.session() as session:
        return (len((await session.exec(select(Escalation))).all()),
                len((await session.exec(select(EscalationEvent))).all()),
                len((await session.exec(select(OutboxItem))).all()))


# ---- commands -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTORS)
async def test_escalate_no_args_opens_filing_form_for_registered_users(core, world, who, name):
    reply = await dispatch(core, text="escalate", actor=who(name), platform="slack")
    if name == "unknown":
        assert isinstance(reply, Message) and reply.title == "Not allowed"
        return
    assert isinstance(reply, OpenForm) and reply.form.id is FormId.ESCALATION_FILE
    partner = next(f for f in reply.form.fields if f.id == "partner")
    slugs = [o.value for o in partner.options]
    if name in ("acme-tl", "globex-tl"):
        own = name.split("-")[0]
        assert (partner.read_only, partner.initial, slugs) == (True, own, [own])
    else:
        assert (partner.read_only, slugs) == (False, ["acme", "globex", "northwind"])


@pytest.mark.parametrize("name", ACTORS)
async def test_escalate_show_authorization_matrix(core, who, make_escalation, name):
    esc = await make_escalation()
    reply = await dispatch(core, text=f"escalate show {esc.ref}", actor=who(name), platform="slack")
    if ALLOWED[name]:
        assert reply.title.startswith(esc.ref)
        history = reply.sections[-1]
        assert history.heading == "History" and "Tomasz Nowak filed it" in history.bullets[0]
    else:
        assert reply.title == "Not allowed"
        assert "Chat queue" not in str(reply)


@pytest.mark.parametrize("name", ACTORS)
async def test_escalate_list_authorization_matrix(core, who, make_escalation, name):
    esc = await make_escalation()
    reply = await dispatch(core, text="escalate list", actor=who(name), platform="slack")
    if name == "unknown":
        assert reply.title == "Not allowed"
        return
    listed = " ".join(b for s in reply.sections for b in s.bullets)
    assert (esc.ref in listed) is ALLOWED[name]


async def test_escalate_list_other_partner_refused_for_partner_user(core, who, make_escalation):
    await make_escalation()
    reply = await dispatch(core, text="escalate list acme all", actor=who("globex-tl"), platform="slack")
    missing = await dispatch(core, text="escalate list nosuch all", actor=who("globex-tl"), platform="slack")
    # refused in the very words of a partner that does not exist: Acme's existence is not revealed
    assert reply.title == missing.title == "I didn't understand that"
    assert reply.summary.replace("acme", "X") == missing.summary.replace("nosuch", "X")
    assert "Acme" not in reply.text and "acme" not in str(reply.sections)


async def test_escalate_list_unknown_partner_suggests_close_names(core, who):
    reply = await dispatch(core, text="escalate list acmee", actor=who("lead"), platform="slack")
    assert reply.title == "I didn't understand that" and "acme" in reply.sections[0].bullets and reply.sections[0].heading == "Did you mean"


async def test_escalate_list_open_hides_resolved_and_all_shows_it(core, who, make_escalation):
    esc = await make_escalation("resolved")
    open_reply = await dispatch(core, text="escalate list acme", actor=who("lead"), platform="slack")
    all_reply = await dispatch(core, text="escalate list acme all", actor=who("lead"), platform="slack")
    assert open_reply.summary == "No open escalations for Acme Contact Solutions."
    assert esc.ref in all_reply.sections[0].bullets[0]


async def test_escalate_data_protection_hidden_from_client_without_capability(core, db, world, who, clock):
    esc = await svc.file_escalation(db, actor=world.actor("acme-tl"), partner_id=world.partners["acme"].id,
                                    severity="P1", category="data_protection", title="Laptop lost", now=clock.now())
    admin = await dispatch(core, text=f"escalate show {esc.ref}", actor=who("admin"), platform="slack")
    am = await dispatch(core, text=f"escalate show {esc.ref}", actor=who("acme-am"), platform="slack")
    filer = await dispatch(core, text=f"escalate show {esc.ref}", actor=who("acme-tl"), platform="slack")
    listed = await dispatch(core, text="escalate list", actor=who("acme-am"), platform="slack")
    assert admin.title.startswith(esc.ref) and filer.title.startswith(esc.ref)
    assert am.title == "Not allowed" and not listed.sections


async def test_escalate_bad_subcommand_suggests(core, who):
    reply = await dispatch(core, text="escalate lst", actor=who("lead"), platform="slack")
    assert "list" in reply.sections[0].bullets


# ---- buttons --------------------------------------------------------------------------------

BUTTONS = [
    (ActionId.ESCALATION_ACKNOWLEDGE, "open", "replace"),
    (ActionId.ESCALATION_ESCALATE_NOW, "open", "replace"),
    (ActionId.ESCALATION_REASSIGN, "open", "form"),
    (ActionId.ESCALATION_ADD_NOTE, "open", "form"),
    (ActionId.ESCALATION_RESOLVE, "acknowledged", "form"),
    (ActionId.ESCALATION_REOPEN, "resolved", "replace"),
]


@pytest.mark.parametrize("name", ACTORS)
@pytest.mark.parametrize(("action", "state", "outcome"), BUTTONS)
async def test_escalation_buttons_authorization_matrix(core, db, who, make_escalation, name, action, state, outcome):
    esc = await make_escalation(state)
    before = await counts(db)
    result = await handle_action(core, Press(action, f"escalation:{esc.id}", who(name, "teams")))
    if not ALLOWED[name]:
        assert result.reply.title == "Not allowed"
        assert result.replace is None and result.open_form is None
        assert await counts(db) == before
        return
    if outcome == "replace":
        assert result.replace is not None and result.replace.title.startswith(esc.ref)
        assert (await counts(db))[1] == before[1] + 1
    else:
        assert result.open_form is not None and result.open_form.form.state == str(esc.id)
        assert await counts(db) == before


async def test_escalation_button_in_wrong_state_is_refused_and_changes_nothing(core, db, who, make_escalation):
    esc = await make_escalation("resolved")
    before = await counts(db)
    result = await handle_action(core, Press(ActionId.ESCALATION_ACKNOWLEDGE, f"escalation:{esc.id}", who("lead")))
    assert result.reply.title == "Can't do that" and "it is resolved" in result.reply.summary
    assert await counts(db) == before


async def test_escalation_stale_button_rechecks_server_state(core, db, who, make_escalation):
    # the card still shows Resolve for an escalation someone else reopened meanwhile
    esc = await make_escalation("resolved")
    await handle_action(core, Press(ActionId.ESCALATION_REOPEN, f"escalation:{esc.id}", who("lead")))
    result = await handle_action(core, Press(ActionId.ESCALATION_RESOLVE, f"escalation:{esc.id}", who("acme-tl")))
    assert result.open_form is None and "Acknowledge it first" in result.reply.summary


# ---- forms ----------------------------------------------------------------------------------

def filing(actor, **values) -> Submission:
    base = {"partner": "acme", "severity": "P2", "category": "quality", "title": "Wrong script used",
            "description": "", "link": ""}
    base.update(values)
    return Submission(FormId.ESCALATION_FILE, base, actor)


@pytest.mark.parametrize(("name", "values", "field", "text"), [
    ("lead", {"title": "  "}, "title", "title"),
    ("lead", {"partner": "acmee"}, "partner", "Did you mean acme?"),
    ("acme-tl", {"partner": "globex"}, "partner", "There is no partner 'globex' you can file for."),
    ("lead", {"severity": "P9"}, "severity", "P1"),
    ("lead", {"category": None}, "category", "category"),
    ("lead", {"link": "ftp://x"}, "link", "https://"),
])
async def test_filing_form_bad_field_answers_in_form_and_creates_nothing(core, db, world, who, name, values,
                                                                          field, text):
    before = await counts(db)
    result = await handle_form(core, filing(who(name), **values))
    assert isinstance(result.errors, FormErrors) and text in result.errors.errors[field]
    assert await counts(db) == before


async def test_filing_form_unknown_user_refused(core, db, world):
    before = await counts(db)
    result = await handle_form(core, filing(UNKNOWN))
    assert result.reply.title == "Not allowed" and await counts(db) == before


async def test_filing_form_valid_creates_and_confirms_with_reference(core, db, who):
    result = await handle_form(core, filing(who("acme-tl"), link="https://crm.example/t/1"))
    assert result.errors is None
    ref = result.extra["ref"]
    assert result.reply.title == f"Filed {ref}"
    async with db.session() as session:
        esc = (await session.exec(select(Escalation))).one()
    assert (esc.ref, esc.link, esc.filer_name) == (ref, "https://crm.example/t/1", "Tomasz Nowak")


async def test_resolve_form_requires_note(core, db, who, make_escalation):
    esc = await make_escalation("acknowledged")
    empty = await handle_form(core, Submission(FormId.ESCALATION_RESOLVE, {"note": ""}, who("lead"), str(esc.id)))
    assert "resolution note is required" in empty.errors.errors["note"]
    done = await handle_form(core, Submission(FormId.ESCALATION_RESOLVE, {"note": "Fixed rota"}, who("lead"), str(esc.id)))
    assert done.reply.title == f"{esc.ref}: resolved"


async def test_reassign_form_accepts_visible_user_and_rejects_other_partner(core, db, who, make_escalation):
    esc = await make_escalation()
    opened = await handle_action(core, Press(ActionId.ESCALATION_REASSIGN, f"escalation:{esc.id}", who("lead")))
    handles = [o.value for o in opened.open_form.form.fields[0].options]
    assert "acme-am" in handles and "globex-tl" not in handles
    bad = await handle_form(core, Submission(FormId.ESCALATION_REASSIGN, {"assignee": "globex-tl"}, who("lead"),
                                             str(esc.id)))
    assert "can see" in bad.errors.errors["assignee"]
    good = await handle_form(core, Submission(FormId.ESCALATION_REASSIGN, {"assignee": "acme-am", "note": "yours"},
                                              who("lead"), str(esc.id)))
    assert good.reply.title == f"{esc.ref}: reassigned"
    async with db.session() as session:
        assert (await session.get(Escalation, esc.id)).assignee_name == "Joana Silva"


async def test_note_form_adds_history_line(core, db, who, make_escalation):
    esc = await make_escalation()
    await handle_form(core, Submission(FormId.ESCALATION_NOTE, {"note": "Called the site"}, who("acme-tl"), str(esc.id)))
    reply = await dispatch(core, text=f"escalate show {esc.ref}", actor=who("lead"), platform="slack")
    assert reply.sections[-1].bullets[-1].endswith("Tomasz Nowak added a note (L1 Partner team lead): Called the site")


async def test_breach_open_escalation_prefills_from_breach(core, db, world, who, clock):
    async with db.transaction() as session:
        target = (await session.exec(select(Target).where(Target.key == "sl-voice-day",
                                                          Target.partner_id == world.partners["acme"].id))).one()
        session.add(BreachEpisode(id=77, target_id=target.id, partner_id=target.partner_id, opened_at=clock.now(),
                                  last_violating_start=clock.now(), last_violating_end=clock.now(),
                                  worst_value=61.5, last_value=70.0, created_at=clock.now()))
    result = await handle_action(core, Press(ActionId.BREACH_OPEN_ESCALATION, "breach:77", who("acme-tl")))
    form = result.open_form.form
    initial = {f.id: f.initial for f in form.fields}
    assert initial["partner"] == "acme" and initial["category"] == "sla_performance"
    assert initial["title"] == "SLA breach: Service level" and "61.5" in initial["description"]
    assert form.state == "breach:77"
    other = await handle_action(core, Press(ActionId.BREACH_OPEN_ESCALATION, "breach:77", who("globex-tl")))
    assert other.reply.title == "Not allowed"
    filed = await handle_form(core, Submission(FormId.ESCALATION_FILE, {**initial, "severity": "P2"}, who("acme-tl"),
                                               form.state))
    async with db.session() as session:
        assert (await session.get(Escalation, filed.extra["escalation_id"])).breach_episode_id == 77
