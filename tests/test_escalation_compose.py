"""Golden files for the escalation composers (pure: same data, same message)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.compose import escalation as compose
from bot.domain.escalation import PlanStep
from bot.messages_codec import message_to_dict
from bot.store.escalations import Escalation, EscalationEvent

GOLDEN = Path(__file__).parent / "golden"
WARSAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
LEVELS = ("Partner team lead", "Partner account manager", "Client BPO lead", "Head of customer experience")


def make_escalation(**changes) -> Escalation:
    values = dict(id=12, partner_id=1, severity="P2", category="sla_performance",
                  title="Voice SL at 61% <!channel>", description="Lisbon voice queue *unstaffed* since 09:00",
                  link="https://crm.example/t/991", status="open", level=1, max_level=1, filed_by=4,
                  filer_name="Tomasz Nowak", opened_at=T0, level_since=T0 + timedelta(minutes=30),
                  repeat_at=None, notified=["Joana Silva", "#C0ACMEESC"], card_key="escalation:12:card")
    values.update(changes)
    return Escalation(**values)


CTX = compose.CardContext(
    partner_name="Acme Contact Solutions", tz=WARSAW, level_names=LEVELS, notified=("Joana Silva", "#C0ACMEESC"),
    plan=(PlanStep(1, LEVELS[1], None), PlanStep(2, LEVELS[2], T0 + timedelta(minutes=90)),
          PlanStep(3, LEVELS[3], T0 + timedelta(minutes=330))))

EVENTS = [
    EscalationEvent(id=1, escalation_id=12, at=T0, actor_id=4, actor_name="Tomasz Nowak", kind="filed",
                    from_state=None, to_state="open", level=0),
    EscalationEvent(id=2, escalation_id=12, at=T0 + timedelta(minutes=30), actor_id=None, actor_name="Liaison",
                    kind="auto_escalated", from_state="open", to_state="open", level=1),
    EscalationEvent(id=3, escalation_id=12, at=T0 + timedelta(minutes=50), actor_id=2, actor_name="Lena Lead",
                    kind="acknowledged", from_state="open", to_state="acknowledged", level=1),
    EscalationEvent(id=4, escalation_id=12, at=T0 + timedelta(hours=2), actor_id=2, actor_name="Lena Lead",
                    kind="resolved", from_state="acknowledged", to_state="resolved", level=1,
                    note="Two agents moved from chat"),
]
RESOLVED = make_escalation(status="resolved", acknowledged_at=T0 + timedelta(minutes=50),
                           resolved_at=T0 + timedelta(hours=2), close_at=T0 + timedelta(days=7, hours=2),
                           resolution_note="Two agents moved from chat", assignee_name="Lena Lead")


def _check(name: str, payload: object) -> None:
    path = GOLDEN / f"{name}.json"
    got = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize(("name", "message"), [
    ("escalation_card_open", compose.escalation_card(make_escalation(), CTX)),
    ("escalation_card_open_top_level", compose.escalation_card(
        make_escalation(level=3), compose.CardContext(partner_name="Acme Contact Solutions", tz=WARSAW,
                                                      level_names=LEVELS, plan=(PlanStep(3, LEVELS[3], None),)))),
    ("escalation_card_resolved", compose.escalation_card(RESOLVED, CTX)),
    ("escalation_level_notice_reminder", compose.level_notice(
        make_escalation(level=0, repeat_at=T0 + timedelta(minutes=10)),
        compose.CardContext(partner_name="Acme Contact Solutions", tz=WARSAW, level_names=LEVELS,
                            plan=(PlanStep(0, LEVELS[0], None), PlanStep(1, LEVELS[1], T0 + timedelta(minutes=30))),
                            repeat_every="10m"), reminder=True)),
    ("escalation_history_entry", compose.history_entry(RESOLVED, EVENTS[3], CTX)),
    ("escalation_filer_update", compose.filer_update(RESOLVED, EVENTS[3], CTX)),
    ("escalation_filed_confirmation", compose.filed_confirmation(make_escalation(level=0), CTX)),
    ("escalation_detail", compose.escalation_detail(RESOLVED, EVENTS, CTX)),
    ("escalation_list", compose.escalation_list([(make_escalation(), "Acme Contact Solutions"), (
        make_escalation(id=9, severity="P4", title="Headset budget", status="acknowledged", level=0),
        "Acme Contact Solutions")], scope="open escalations", tz_of={1: WARSAW})),
])
def test_escalation_composer_matches_golden(name, message):
    _check(name, message_to_dict(message))


@pytest.mark.parametrize(("name", "form"), [
    ("escalation_form_file_partner_user", compose.filing_form(
        partners=[("acme", "Acme Contact Solutions")], fixed_partner="acme")),
    ("escalation_form_file_from_breach", compose.filing_form(
        partners=[("acme", "Acme Contact Solutions"), ("globex", "Globex CX")],
        prefill=compose.FilingPrefill(partner="acme", severity="P2", category="sla_performance",
                                      title="SLA breach: Service level", description="Worst value: 61.5",
                                      breach_episode_id=77))),
    ("escalation_form_resolve", compose.resolve_form(make_escalation(status="acknowledged"))),
    ("escalation_form_reassign", compose.reassign_form(make_escalation(), people=[("acme-am", "Joana Silva"),
                                                                                 ("lead", "Lena Lead")])),
])
def test_escalation_form_matches_golden(name, form):
    _check(name, message_to_dict(form))


def test_escalation_card_buttons_follow_state():
    ids = {state: [a.id.value for a in compose.escalation_card(make_escalation(status=state), CTX).actions]
           for state in ("open", "acknowledged", "resolved", "closed")}
    assert ids == {
        "open": ["escalation_acknowledge", "escalation_escalate_now", "escalation_reassign", "escalation_add_note"],
        "acknowledged": ["escalation_resolve", "escalation_reassign", "escalation_add_note"],
        "resolved": ["escalation_reopen", "escalation_add_note"],
        "closed": ["escalation_reopen"],
    }


def test_escalation_card_keeps_user_text_plain_for_renderers_to_escape():
    card = compose.escalation_card(make_escalation(), CTX)
    assert "<!channel>" in card.title  # plain text here; Block Kit/Adaptive Card renderers escape it
    assert card.sections[0].text == "Lisbon voice queue *unstaffed* since 09:00"


def test_escalation_list_of_one_says_escalation_in_the_singular():
    from bot.compose.escalation import escalation_list

    one = escalation_list([(make_escalation(), "Acme Contact Solutions")], scope="open escalations", tz_of={})
    assert one.summary == "1 open escalation."
