"""The escalation state machine, rights and timing rules (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config.schema import EscalationPolicy
from bot.domain.access import AccessDenied, Actor, Role
from bot.domain.escalation import (
    TRANSITIONS,
    Category,
    Move,
    Severity,
    State,
    TransitionRefused,
    allowed_at,
    can_view,
    check_move,
    escalate_due,
    parse_ref,
    plan,
    repeat_due,
)

WARSAW = ZoneInfo("Europe/Warsaw")
ACME, GLOBEX = 1, 3

POLICY = EscalationPolicy.model_validate({
    "levels": [
        {"name": "Partner team lead", "users": ["acme-tl"], "wait": {"P1": "15m", "P2": "30m", "P3": "4h", "P4": "1d"},
         "repeat_every": "10m"},
        {"name": "Partner account manager", "users": ["acme-am"],
         "wait": {"P1": "30m", "P2": "1h", "P3": "8h", "P4": "2d"}},
        {"name": "Client BPO lead", "users": ["lead"], "wait": {"P1": "1h", "P2": "4h", "P3": "1d", "P4": "3d"}},
    ],
    "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"},
    "quiet_hours": {"start": "22:00", "end": "07:00"},
    "auto_close_after": "7d",
})

ADMIN = Actor("slack", "U0ADMIN", Role.ADMIN, 1, "Ada")
CLIENT = Actor("slack", "U0LEAD", Role.CLIENT, 2, "Lena")
CLIENT_DP = Actor("slack", "U0CXHEAD", Role.CLIENT, 3, "Chris", capabilities=frozenset({"data_protection"}))
PARTNER_A = Actor("slack", "U0ACME1", Role.PARTNER, 4, "Tomasz", partner_id=ACME, partner_slug="acme")
PARTNER_B = Actor("slack", "U0GLOBEX1", Role.PARTNER, 5, "Paulo", partner_id=GLOBEX, partner_slug="globex")
UNKNOWN = Actor("slack", "U0STRANGER")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


ALLOWED = sorted(TRANSITIONS.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))
REFUSED = sorted(((s, m) for s in State for m in Move if m is not Move.FILE and (s, m) not in TRANSITIONS),
                 key=lambda sm: (sm[0].value, sm[1].value))


@pytest.mark.parametrize(("state", "move", "after"), [(s, m, a) for (s, m), a in ALLOWED])
def test_check_move_allowed_transition_returns_new_state(state, move, after):
    actor = None if move in (Move.AUTO_ESCALATE, Move.REPEAT) else CLIENT
    assert check_move(state=state, move=move, actor=actor, partner_id=ACME, category="quality",
                      level=0, top_level=2) is after


@pytest.mark.parametrize(("state", "move"), REFUSED)
def test_check_move_refused_transition_raises_with_state_named(state, move):
    actor = None if move in (Move.AUTO_ESCALATE, Move.REPEAT) else CLIENT
    with pytest.raises(TransitionRefused) as info:
        check_move(state=state, move=move, actor=actor, partner_id=ACME, category="quality",
                   level=0, top_level=2, ref="ESC-7")
    assert f"it is {state.value}" in str(info.value)
    assert "ESC-7" in str(info.value)


def test_check_move_main_path_is_open_acknowledged_resolved_closed():
    state = State.OPEN
    for move in (Move.ACKNOWLEDGE, Move.RESOLVE, Move.CLOSE, Move.REOPEN):
        state = check_move(state=state, move=move, actor=None if move is Move.CLOSE else PARTNER_A,
                           partner_id=ACME, category="quality")
    assert state is State.OPEN


def test_check_move_resolve_while_open_says_acknowledge_first():
    with pytest.raises(TransitionRefused, match="Acknowledge it first"):
        check_move(state=State.OPEN, move=Move.RESOLVE, actor=CLIENT, partner_id=ACME, category="quality")


def test_check_move_escalate_at_top_level_is_refused():
    with pytest.raises(TransitionRefused, match="top level"):
        check_move(state=State.OPEN, move=Move.ESCALATE, actor=CLIENT, partner_id=ACME, category="quality",
                   level=2, top_level=2)


@pytest.mark.parametrize(("actor", "allowed"), [
    (CLIENT, True), (ADMIN, True), (PARTNER_A, True), (PARTNER_B, False), (UNKNOWN, False)])
@pytest.mark.parametrize("move", [Move.ACKNOWLEDGE, Move.ESCALATE, Move.REASSIGN, Move.NOTE])
def test_check_move_rights_per_actor_match_partner_access(actor, allowed, move):
    def run():
        return check_move(state=State.OPEN, move=move, actor=actor, partner_id=ACME, category="quality",
                          level=0, top_level=2)
    if allowed:
        assert run() in State
    else:
        with pytest.raises(AccessDenied):
            run()


def test_check_move_partner_b_refused_before_state_is_revealed():
    # a closed escalation cannot be acknowledged, but partner B must hear "no access", not the state
    with pytest.raises(AccessDenied):
        check_move(state=State.CLOSED, move=Move.ACKNOWLEDGE, actor=PARTNER_B, partner_id=ACME, category="quality")


@pytest.mark.parametrize("actor", [CLIENT, PARTNER_A])
def test_check_move_timer_moves_refused_for_people(actor):
    with pytest.raises(AccessDenied):
        check_move(state=State.OPEN, move=Move.AUTO_ESCALATE, actor=actor, partner_id=ACME, category="quality",
                   top_level=2)


def test_check_move_close_allowed_for_client_refused_for_partner():
    assert check_move(state=State.RESOLVED, move=Move.CLOSE, actor=CLIENT, partner_id=ACME,
                      category="quality") is State.CLOSED
    with pytest.raises(AccessDenied):
        check_move(state=State.RESOLVED, move=Move.CLOSE, actor=PARTNER_A, partner_id=ACME, category="quality")


@pytest.mark.parametrize(("actor", "filed_by", "visible"), [
    (ADMIN, None, True), (CLIENT_DP, None, True), (CLIENT, None, False), (PARTNER_A, None, False),
    (PARTNER_A, 4, True), (PARTNER_B, 5, False), (UNKNOWN, None, False)])
def test_can_view_data_protection_only_admins_capability_and_filer(actor, filed_by, visible):
    assert can_view(actor, partner_id=ACME, category=Category.DATA_PROTECTION, filed_by=filed_by) is visible


def test_parse_ref_accepts_prefix_any_case_and_rejects_garbage():
    assert parse_ref("ESC-123") == 123
    assert parse_ref("esc-9") == 9
    assert parse_ref("42") == 42
    assert parse_ref("ESC-x") is None


def test_severity_each_has_plain_description():
    assert all(len(s.description) > 20 for s in Severity)
    assert "night" in Severity.P1.description


# ---- timing -------------------------------------------------------------------------------

def test_allowed_at_inside_business_hours_is_unchanged():
    moment = utc("2026-11-16T11:00:00+01:00")
    assert allowed_at(moment, severity="P2", policy=POLICY, tz=WARSAW) == moment


def test_allowed_at_in_quiet_hours_waits_for_next_business_opening():
    # Monday 22:30 Warsaw: quiet until 07:00, business from 08:00 Tuesday
    moment = utc("2026-11-16T22:30:00+01:00")
    assert allowed_at(moment, severity="P3", policy=POLICY, tz=WARSAW) == utc("2026-11-17T08:00:00+01:00")


def test_allowed_at_friday_evening_waits_for_monday():
    moment = utc("2026-11-20T19:00:00+01:00")
    assert allowed_at(moment, severity="P2", policy=POLICY, tz=WARSAW) == utc("2026-11-23T08:00:00+01:00")


def test_allowed_at_p1_at_night_is_immediate():
    moment = utc("2026-11-21T03:00:00+01:00")  # Saturday, quiet hours
    assert allowed_at(moment, severity="P1", policy=POLICY, tz=WARSAW) == moment


def test_allowed_at_quiet_hours_inside_business_day_move_to_quiet_end():
    policy = POLICY.model_copy(update={"quiet_hours": POLICY.quiet_hours.model_copy(
        update={"start": datetime(2000, 1, 1, 12).time(), "end": datetime(2000, 1, 1, 13).time()})})
    moment = utc("2026-11-16T12:15:00+01:00")
    assert allowed_at(moment, severity="P4", policy=policy, tz=WARSAW) == utc("2026-11-16T13:00:00+01:00")


def test_escalate_due_uses_wait_of_level_and_severity():
    since = utc("2026-11-16T10:00:00+01:00")
    assert escalate_due(policy=POLICY, severity="P2", level=0, since=since, tz=WARSAW) == since + timedelta(minutes=30)
    assert escalate_due(policy=POLICY, severity="P1", level=1, since=since, tz=WARSAW) == since + timedelta(minutes=30)
    assert escalate_due(policy=POLICY, severity="P2", level=2, since=since, tz=WARSAW) is None


def test_escalate_due_falling_after_hours_moves_to_next_morning():
    since = utc("2026-11-16T16:00:00+01:00")  # P3 waits 4h -> 20:00, after business hours
    assert escalate_due(policy=POLICY, severity="P3", level=0, since=since, tz=WARSAW) == utc("2026-11-17T08:00:00+01:00")


def test_repeat_due_stops_when_escalation_comes_first():
    since = utc("2026-11-16T10:00:00+01:00")
    esc_at = since + timedelta(minutes=30)
    assert repeat_due(policy=POLICY, severity="P2", level=0, last_notified=since, escalate_at=esc_at,
                      tz=WARSAW) == since + timedelta(minutes=10)
    assert repeat_due(policy=POLICY, severity="P2", level=0, last_notified=since + timedelta(minutes=20),
                      escalate_at=esc_at, tz=WARSAW) is None
    assert repeat_due(policy=POLICY, severity="P2", level=1, last_notified=since, escalate_at=None, tz=WARSAW) is None


def test_plan_lists_each_later_level_with_its_time():
    since = utc("2026-11-16T10:00:00+01:00")
    steps = plan(policy=POLICY, severity="P2", level=0, since=since, tz=WARSAW)
    assert [(s.level, s.at) for s in steps] == [
        (0, None), (1, since + timedelta(minutes=30)), (2, since + timedelta(minutes=90))]


def test_allowed_at_across_dst_change_keeps_local_opening_time():
    # Friday 27 Mar 2026 19:00 CET; Monday 30 Mar is summer time (CEST, +02:00)
    moment = utc("2026-03-27T19:00:00+01:00")
    assert allowed_at(moment, severity="P2", policy=POLICY, tz=WARSAW) == utc("2026-03-30T08:00:00+02:00")
