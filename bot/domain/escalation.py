"""Escalation rules: severities, categories, states, allowed transitions, rights and timing.

Pure: no I/O, no clock. Timing functions take ``now`` and the partner's policy and timezone.
Non-P1 escalations move up and notify only inside the partner's business hours and outside
its quiet hours; a step that falls due outside them waits for the next allowed moment.
P1 ignores both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.access import NOT_REGISTERED, AccessDenied, Actor

if TYPE_CHECKING:
    from bot.config.schema import EscalationPolicy

DATA_PROTECTION_CAPABILITY = "data_protection"
REF_PREFIX = "ESC-"


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def description(self) -> str:
        return _SEVERITY_TEXT[self]


_SEVERITY_TEXT = {
    Severity.P1: "Critical: customers cannot be served or data is at risk; act now, day or night",
    Severity.P2: "High: a major KPI or a whole queue is badly hit; act within the hour",
    Severity.P3: "Medium: a noticeable problem with a workaround; act today",
    Severity.P4: "Low: a question or improvement; act this week",
}


class Category(StrEnum):
    QUALITY = "quality"
    SLA_PERFORMANCE = "sla_performance"
    STAFFING_ATTRITION = "staffing_attrition"
    TOOLING_CRM = "tooling_crm"
    DATA_PROTECTION = "data_protection"
    PRODUCT_PROCESS_CHANGE = "product_process_change"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _CATEGORY_TEXT[self]


_CATEGORY_TEXT = {
    Category.QUALITY: "Quality",
    Category.SLA_PERFORMANCE: "SLA / performance",
    Category.STAFFING_ATTRITION: "Staffing / attrition",
    Category.TOOLING_CRM: "Tooling / CRM",
    Category.DATA_PROTECTION: "Data protection incident",
    Category.PRODUCT_PROCESS_CHANGE: "Product or process change",
    Category.OTHER: "Other",
}


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Move(StrEnum):
    """What someone (or the timer) does to an escalation; each is one event kind."""

    FILE = "filed"
    ACKNOWLEDGE = "acknowledged"
    ESCALATE = "escalated"
    AUTO_ESCALATE = "auto_escalated"
    REPEAT = "reminded"
    REASSIGN = "reassigned"
    NOTE = "note"
    RESOLVE = "resolved"
    REOPEN = "reopened"
    CLOSE = "closed"

    @property
    def verb(self) -> str:
        return _MOVE_VERB[self]


_MOVE_VERB = {
    Move.FILE: "file", Move.ACKNOWLEDGE: "acknowledge", Move.ESCALATE: "escalate",
    Move.AUTO_ESCALATE: "escalate", Move.REPEAT: "remind about", Move.REASSIGN: "reassign",
    Move.NOTE: "add a note to", Move.RESOLVE: "resolve", Move.REOPEN: "reopen", Move.CLOSE: "close",
}

# The whole state machine: (state, move) -> new state. Anything missing is refused.
TRANSITIONS: dict[tuple[State, Move], State] = {
    (State.OPEN, Move.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.OPEN, Move.ESCALATE): State.OPEN,
    (State.OPEN, Move.AUTO_ESCALATE): State.OPEN,
    (State.OPEN, Move.REPEAT): State.OPEN,
    (State.OPEN, Move.REASSIGN): State.OPEN,
    (State.ACKNOWLEDGED, Move.REASSIGN): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Move.RESOLVE): State.RESOLVED,
    (State.RESOLVED, Move.CLOSE): State.CLOSED,
    (State.RESOLVED, Move.REOPEN): State.OPEN,
    (State.CLOSED, Move.REOPEN): State.OPEN,
    **{(state, Move.NOTE): state for state in State},
}

# Moves only the timer (or a client-side user, for CLOSE) makes.
SYSTEM_MOVES = frozenset({Move.AUTO_ESCALATE, Move.REPEAT, Move.CLOSE})

_HINTS = {
    (State.OPEN, Move.RESOLVE): "Acknowledge it first, then resolve it with a note.",
    (State.ACKNOWLEDGED, Move.ESCALATE): "It is already acknowledged; reassign it if someone else should take it.",
    (State.ACKNOWLEDGED, Move.ACKNOWLEDGE): "Someone is already on it.",
    (State.OPEN, Move.REOPEN): "It is still open.",
    (State.ACKNOWLEDGED, Move.REOPEN): "It is still being worked on.",
    (State.RESOLVED, Move.RESOLVE): "It is already resolved; reopen it if the problem came back.",
    (State.CLOSED, Move.RESOLVE): "It is closed; reopen it if the problem came back.",
}


class TransitionRefused(Exception):
    """A move the state machine does not allow from the current state; nothing was changed."""


def format_ref(number: int) -> str:
    return f"{REF_PREFIX}{number}"


def parse_ref(text: str) -> int | None:
    """Return the number in "ESC-123" / "esc-123" / "123", or None."""
    raw = text.strip().upper()
    if raw.startswith(REF_PREFIX):
        raw = raw[len(REF_PREFIX):]
    return int(raw) if raw.isdigit() else None


def can_view(actor: Actor, *, partner_id: int, category: str, filed_by: int | None = None) -> bool:
    """Return whether ``actor`` may see an escalation of this partner and category."""
    if not actor.registered or not actor.can_see_partner(partner_id):
        return False
    if category == Category.DATA_PROTECTION:
        # the filer keeps sight of what they reported, whatever their rights
        return actor.has(DATA_PROTECTION_CAPABILITY) or (filed_by is not None and actor.user_id == filed_by)
    return True


def require_view(actor: Actor, *, partner_id: int, category: str, filed_by: int | None = None,
                 ref: str = "this escalation") -> None:
    """Raise AccessDenied unless ``actor`` may see the escalation."""
    if not actor.registered:
        raise AccessDenied(NOT_REGISTERED)
    if not can_view(actor, partner_id=partner_id, category=category, filed_by=filed_by):
        raise AccessDenied(not_visible(ref))


def not_visible(ref: str) -> str:
    """Word "no such escalation" and "not yours" alike, so nobody learns which refs exist."""
    return f"There is no escalation {ref} that you can see."


def counts_in_aggregate(viewer: Actor | None, *, partner_id: int, category: str, filed_by: int | None = None) -> bool:
    """Tell whether an escalation may be counted in a pack, digest or total shown to ``viewer``.

    ``viewer`` None is a channel (anyone in it may read): data-protection escalations never
    reach channels as cards, so they are not counted there either.
    """
    if viewer is None:
        return category != Category.DATA_PROTECTION
    return can_view(viewer, partner_id=partner_id, category=category, filed_by=filed_by)


def check_move(*, state: State, move: Move, actor: Actor | None, partner_id: int, category: str,
               filed_by: int | None = None, level: int = 0, top_level: int = 0,
               ref: str = "this escalation") -> State:
    """Return the state after ``move``; raise AccessDenied or TransitionRefused and change nothing.

    ``actor`` None is the timer. Rights are checked before the state so that someone
    without access learns nothing about the escalation.
    """
    if actor is not None:
        require_view(actor, partner_id=partner_id, category=category, filed_by=filed_by, ref=ref)
        if move in SYSTEM_MOVES and not (move is Move.CLOSE and actor.is_client_side):
            raise AccessDenied(f"Only Liaison's timer (or a client manager, for closing) can {move.verb} {ref}.")
    new_state = TRANSITIONS.get((state, move))
    if new_state is None:
        hint = _HINTS.get((state, move), "")
        raise TransitionRefused(f"You can't {move.verb} {ref}: it is {state.value}. {hint}".strip())
    if move in (Move.ESCALATE, Move.AUTO_ESCALATE) and level >= top_level:
        raise TransitionRefused(f"{ref} is already at its top level ({level + 1}); nobody is left to escalate to.")
    return new_state


# ---- timing ------------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _in_quiet(t: time, start: time, end: time) -> bool:
    return start <= t < end if start < end else (t >= start or t < end)


def _business_or_next(local: datetime, days: list[str], start: time, end: time, tz: ZoneInfo) -> datetime:
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if _DAYS[day.weekday()] not in days:
            continue
        opens = datetime.combine(day, start, tzinfo=tz)
        closes = datetime.combine(day, end, tzinfo=tz)
        if offset == 0:
            if local < opens:
                return opens
            if local < closes:
                return local
            continue
        return opens
    return local  # no business days configured: never hold back


def _after_quiet(local: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    if not _in_quiet(local.timetz().replace(tzinfo=None), start, end):
        return local
    day = local.date()
    if local.time() >= end:
        day = day + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


def allowed_at(moment: datetime, *, severity: str, policy: EscalationPolicy | None, tz: ZoneInfo) -> datetime:
    """Return the earliest moment at or after ``moment`` when this escalation may move or notify."""
    if severity == Severity.P1 or policy is None:
        return moment
    bh, qh = policy.business_hours, policy.quiet_hours
    local = moment.astimezone(tz)
    for _ in range(16):
        moved = _business_or_next(local, bh.days, bh.start, bh.end, tz)
        if qh is not None:
            moved = _after_quiet(moved, qh.start, qh.end, tz)
        if moved == local:
            break
        local = moved
    return local.astimezone(UTC)


def escalate_due(*, policy: EscalationPolicy | None, severity: str, level: int, since: datetime,
                 tz: ZoneInfo) -> datetime | None:
    """Return when an unacknowledged escalation at ``level`` moves up, or None at the top."""
    if policy is None or level >= len(policy.levels) - 1:
        return None
    return allowed_at(since + policy.wait(level, severity), severity=severity, policy=policy, tz=tz)


def repeat_due(*, policy: EscalationPolicy | None, severity: str, level: int, last_notified: datetime,
               escalate_at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Return when to remind ``level`` again, or None (no repeats, or the escalation comes first)."""
    if policy is None or level >= len(policy.levels):
        return None
    every = policy.levels[level].repeat_every
    if every is None:
        return None
    due = allowed_at(last_notified + every, severity=severity, policy=policy, tz=tz)
    if escalate_at is not None and due >= escalate_at:
        return None
    return due


def notify_at(moment: datetime, *, severity: str, policy: EscalationPolicy | None, tz: ZoneInfo) -> datetime:
    """Return when a first notification made at ``moment`` may go out (quiet hours hold non-P1)."""
    return allowed_at(moment, severity=severity, policy=policy, tz=tz)


def close_due(*, policy: EscalationPolicy | None, resolved_at: datetime) -> datetime:
    """Return when a resolved escalation closes by itself."""
    after = policy.auto_close_after if policy is not None else timedelta(days=7)
    return resolved_at + after


@dataclass(frozen=True, slots=True)
class PlanStep:
    level: int  # 0-based
    name: str
    at: datetime | None  # None: the current level (already notified)


def plan(*, policy: EscalationPolicy | None, severity: str, level: int, since: datetime,
         tz: ZoneInfo) -> list[PlanStep]:
    """Return the current level and each later level with when it is reached if nobody acknowledges."""
    if policy is None:
        return []
    steps = [PlanStep(level, policy.levels[level].name, None)] if level < len(policy.levels) else []
    moment = since
    for next_level in range(level + 1, len(policy.levels)):
        due = escalate_due(policy=policy, severity=severity, level=next_level - 1, since=moment, tz=tz)
        if due is None:
            break
        steps.append(PlanStep(next_level, policy.levels[next_level].name, due))
        moment = due
    return steps


def next_action(*times: datetime | None) -> datetime | None:
    """Return the earliest of the given moments, ignoring None."""
    present = [t for t in times if t is not None]
    return min(present) if present else None
