"""Escalation use cases: file, acknowledge, escalate, reassign, note, resolve, reopen, timers, measures.

Every change is one transaction holding the state change, its audit event and its outbox
rows: the card updated in place (``update_of`` the first post), a history line in the
card's thread (``thread_of``), a direct message to the filer, and, when a level is reached
or reminded, messages to that level's people and channel. Data-protection escalations are
never posted in channels; only people allowed to see them are messaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose import escalation as compose
from bot.config.schema import EscalationPolicy, format_duration
from bot.domain.access import AccessDenied, Actor, Role, require_registered
from bot.domain.escalation import (
    Category,
    Move,
    Severity,
    State,
    TransitionRefused,
    allowed_at,
    can_view,
    check_move,
    close_due,
    escalate_due,
    next_action,
    not_visible,
    plan,
    repeat_due,
    require_view,
)
from bot.domain.wording import possessive
from bot.services.outbox import enqueue, enqueue_direct, enqueue_to_route, route_key
from bot.store.alerts import BreachEpisode
from bot.store.db import Database
from bot.store.escalations import Escalation, EscalationEvent, due_ids, get_escalation
from bot.store.models import Partner, Route, User
from bot.store.policy import load_policy, users_by_handle

PURPOSE = "escalations"
# the form's limits, enforced here too: a client can send anything
TITLE_MAX, DESCRIPTION_MAX, LINK_MAX = 200, 3000, 2000

__all__ = ["EscalationNotFound", "TransitionRefused", "file_escalation", "acknowledge", "escalate_now",
           "reassign", "add_note", "resolve", "reopen", "close", "run_timers", "escalation_measures",
           "summarize_measures", "card_context", "actor_of", "load_setting"]


class EscalationNotFound(Exception):
    """No escalation with that number (shown to the user as is)."""


def actor_of(user: User) -> Actor:
    """Return the Actor a stored User row acts as."""
    return Actor(platform=user.platform, platform_user_id=user.platform_user_id,
                 role=Role(user.role) if user.active else None, user_id=user.id, name=user.name,
                 partner_id=user.partner_id,
                 capabilities=frozenset(user.capabilities or ()))


@dataclass(frozen=True, slots=True)
class Setting:
    """A partner, its escalation policy (None: not configured) and its timezone."""

    partner: Partner
    policy: EscalationPolicy | None
    tz: ZoneInfo

    @property
    def top(self) -> int:
        return len(self.policy.levels) - 1 if self.policy else 0


async def load_setting(session: AsyncSession, partner_id: int) -> Setting:
    """Return the partner, policy and timezone an escalation of ``partner_id`` runs under."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise EscalationNotFound("That partner no longer exists.")
    policy = await load_policy(session, partner_id, "escalation", EscalationPolicy)
    return Setting(partner, policy, ZoneInfo(partner.timezone))


def card_context(esc: Escalation, setting: Setting) -> compose.CardContext:
    """Return what the card needs besides the row."""
    policy = setting.policy
    names = tuple(level.name for level in policy.levels) if policy else ()
    steps = tuple(plan(policy=policy, severity=esc.severity, level=esc.level, since=esc.level_since,
                       tz=setting.tz)) if esc.state is State.OPEN else ()
    every = None
    if policy and esc.level < len(policy.levels) and policy.levels[esc.level].repeat_every:
        every = format_duration(policy.levels[esc.level].repeat_every)
    return compose.CardContext(partner_name=setting.partner.name, tz=setting.tz, level_names=names,
                               notified=tuple(esc.notified or ()), plan=steps, repeat_every=every)


def _reschedule(esc: Escalation, setting: Setting) -> None:
    policy, tz = setting.policy, setting.tz
    esc.escalate_at = esc.repeat_at = esc.close_at = None
    if esc.state is State.OPEN:
        esc.escalate_at = escalate_due(policy=policy, severity=esc.severity, level=esc.level,
                                       since=esc.level_since, tz=tz)
        if esc.last_notified_at is not None:
            esc.repeat_at = repeat_due(policy=policy, severity=esc.severity, level=esc.level,
                                       last_notified=esc.last_notified_at, escalate_at=esc.escalate_at, tz=tz)
    elif esc.state is State.RESOLVED and esc.resolved_at is not None:
        esc.close_at = close_due(policy=policy, resolved_at=esc.resolved_at)
    esc.next_action_at = next_action(esc.escalate_at, esc.repeat_at, esc.close_at)


async def _card_routes(session: AsyncSession, partner_id: int) -> set[tuple[str, str]]:
    rows = (await session.exec(select(Route).where(Route.partner_id == partner_id, Route.purpose == PURPOSE))).all()
    return {(r.platform, r.destination) for r in rows}


async def _notify_level(session: AsyncSession, esc: Escalation, setting: Setting, *, event_key: str,
                        now: datetime, reminder: bool) -> None:
    """Message the current level's people (those allowed to see it) and its channel."""
    policy = setting.policy
    esc.last_notified_at = now
    esc.notify_count += 1
    if policy is None or esc.level >= len(policy.levels):
        esc.notified = ["the escalation channel"]
        return
    level = policy.levels[esc.level]
    sensitive = esc.category == Category.DATA_PROTECTION
    message = compose.level_notice(esc, card_context(esc, setting), reminder=reminder)
    told: list[str] = []
    people = await users_by_handle(session, level.users)
    for handle in level.users:
        rows = [u for u in people.get(handle, [])
                if can_view(actor_of(u), partner_id=esc.partner_id, category=esc.category, filed_by=esc.filed_by)]
        # one message per chat platform the person uses; the console identity only when it is all they have
        chat = [u for u in rows if u.platform != "console"]
        rows = chat or rows
        for user in rows:
            await enqueue_direct(session, user=user, message=message,
                                 key=f"{event_key}:notify:{user.platform}:{user.platform_user_id}", now=now)
        if rows:
            told.append(rows[0].name or handle)
    if level.channel is not None and not sensitive:
        card_routes = await _card_routes(session, esc.partner_id)
        for platform, destination in level.channel.pairs():
            thread = route_key(esc.card_key, platform, destination) if (platform, destination) in card_routes else None
            await enqueue(session, platform=platform, destination=destination, message=message,
                          key=f"{event_key}:notify:{platform}:{destination}", now=now, thread_of=thread)
            told.append(await _channel_name(session, platform, destination))
    esc.notified = told


async def _channel_name(session: AsyncSession, platform: str, destination: str) -> str:
    """Name a channel for people: its Teams name when known, else the platform's channel (never a raw id)."""
    from bot.store.conversations import ConversationRef

    name = (await session.execute(select(ConversationRef.name).where(ConversationRef.key == destination))).scalar()
    return f"#{name}" if name else f"the escalation channel ({platform.title()})"


async def _record(session: AsyncSession, esc: Escalation, setting: Setting, *, move: Move, actor: Actor | None,
                  from_state: State | None, note: str, now: datetime, notify: bool) -> EscalationEvent:
    """Write the audit event and every outbox row for one change, in the caller's transaction."""
    event = EscalationEvent(escalation_id=esc.id, at=now, actor_id=actor.user_id if actor else None,
                            actor_name=actor.display if actor else compose.SYSTEM_NAME, kind=move.value,
                            from_state=from_state.value if from_state else None, to_state=esc.status,
                            level=esc.level, note=note)
    session.add(event)
    await session.flush()
    event_key = f"escalation:{esc.id}:event:{event.id}"
    if notify:
        held_until = allowed_at(now, severity=esc.severity, policy=setting.policy, tz=setting.tz)
        if held_until > now:
            # quiet/business hours: the timer sends this level's first message when they end
            # and the level's wait starts then, not while nobody could be told
            esc.notified = []
            esc.last_notified_at = None
            esc.level_since = held_until
            _reschedule(esc, setting)
            esc.repeat_at = held_until
            esc.next_action_at = next_action(esc.escalate_at, esc.repeat_at, esc.close_at)
            hold = (f"Outside {possessive(setting.partner.name)} business or quiet hours: people are told at "
                    f"{held_until.astimezone(setting.tz):%Y-%m-%d %H:%M} ({setting.tz.key}).")
            event.note = f"{note} ({hold})" if note else hold
        else:
            # a held first message is not a reminder, though the timer sends it
            await _notify_level(session, esc, setting, event_key=event_key, now=now,
                                reminder=move is Move.REPEAT and esc.last_notified_at is not None)
            _reschedule(esc, setting)
    esc.version += 1
    ctx = card_context(esc, setting)
    sensitive = esc.category == Category.DATA_PROTECTION
    if not sensitive:
        card = compose.escalation_card(esc, ctx)
        if move is Move.FILE:
            await enqueue_to_route(session, partner_id=esc.partner_id, purpose=PURPOSE, message=card,
                                   key=esc.card_key, now=now)
        else:
            await enqueue_to_route(session, partner_id=esc.partner_id, purpose=PURPOSE, message=card,
                                   key=f"{esc.card_key}:v{esc.version}", now=now, update_of=esc.card_key)
            if move is not Move.REPEAT:  # a repeat is in the audit trail and on the card, not a thread line each time
                await enqueue_to_route(session, partner_id=esc.partner_id, purpose=PURPOSE,
                                       message=compose.history_entry(esc, event, ctx), key=event_key, now=now,
                                       thread_of=esc.card_key)
    # The filer hears of every change by DM: not of the filing itself (the form answered them) nor of
    # a repeat notice to the current level (nothing changed), nor of what they did themselves.
    filer = await session.get(User, esc.filed_by) if esc.filed_by else None
    if (filer is not None and filer.active and move not in (Move.FILE, Move.REPEAT)
            and (actor is None or actor.user_id != filer.id)):
        await enqueue_direct(session, user=filer, message=compose.filer_update(esc, event, ctx),
                             key=f"{event_key}:filer", now=now)
    session.add(esc)
    await session.flush()
    return event


async def file_escalation(db: Database, *, actor: Actor, partner_id: int, severity: str, category: str,
                          title: str, description: str = "", link: str = "",
                          breach_episode_id: int | None = None, now: datetime) -> Escalation:
    """Open an escalation, post its card, tell its first level and confirm to the filer."""
    require_registered(actor)
    if not actor.can_see_partner(partner_id):
        raise AccessDenied("You can only file escalations for your own partner.")
    Severity(severity)
    Category(category)
    if not title.strip():
        raise ValueError("a title is required")
    if len(title.strip()) > TITLE_MAX or len(description.strip()) > DESCRIPTION_MAX or len(link.strip()) > LINK_MAX:
        raise ValueError(f"keep the title under {TITLE_MAX} characters and the description under "
                         f"{DESCRIPTION_MAX}")
    async with db.transaction() as session:
        if breach_episode_id is not None:
            # form state comes back from the client: link only a breach of this very partner
            breach = await session.get(BreachEpisode, breach_episode_id)
            if breach is None or breach.partner_id != partner_id:
                raise AccessDenied("That form's breach is not one you can link to; file it from the breach alert.")
        setting = await load_setting(session, partner_id)
        esc = Escalation(partner_id=partner_id, severity=severity, category=category, title=title.strip(),
                         description=description.strip(), link=link.strip(), status=State.OPEN, level=0,
                         filed_by=actor.user_id, filer_name=actor.display, breach_episode_id=breach_episode_id,
                         opened_at=now, level_since=now)
        session.add(esc)
        await session.flush()
        esc.card_key = f"escalation:{esc.id}:card"
        _reschedule(esc, setting)
        await _record(session, esc, setting, move=Move.FILE, actor=actor, from_state=None, note="",
                      now=now, notify=True)
    return esc


class _Stale(Exception):
    """Someone changed the escalation between our read and our write."""


async def _hold(session: AsyncSession, esc: Escalation) -> None:
    """Take the write lock and make sure the row is still the version we read.

    SQLite's driver reads outside the write transaction until the first write, so two
    runners could both see the same due escalation; this no-op guarded UPDATE is that first
    write, and it matches no row if another transaction got there first.
    """
    result = await session.execute(
        update(Escalation).where(Escalation.id == esc.id, Escalation.version == esc.version)
        .values(version=Escalation.version).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise _Stale(esc.ref)


async def _apply(session: AsyncSession, esc: Escalation, *, move: Move, actor: Actor | None, now: datetime,
                 note: str = "", assignee: User | None = None) -> EscalationEvent:
    """Check and make one move on a loaded escalation, then record it."""
    await _hold(session, esc)
    setting = await load_setting(session, esc.partner_id)
    from_state = esc.state
    to_state = check_move(state=from_state, move=move, actor=actor, partner_id=esc.partner_id,
                          category=esc.category, filed_by=esc.filed_by, level=esc.level, top_level=setting.top,
                          ref=esc.ref)
    notify = False
    if move is Move.ACKNOWLEDGE:
        esc.acknowledged_at = now
        esc.acknowledged_by = actor.user_id if actor else None
        esc.first_acknowledged_at = esc.first_acknowledged_at or now
        if actor is not None and esc.assignee_id is None:
            esc.assignee_id, esc.assignee_name = actor.user_id, actor.display
    elif move in (Move.ESCALATE, Move.AUTO_ESCALATE):
        esc.level += 1
        esc.max_level = max(esc.max_level, esc.level)
        esc.level_since = now
        notify = True
    elif move is Move.REPEAT:
        notify = True
    elif move is Move.RESOLVE:
        esc.resolved_at = now
        esc.resolved_by = actor.user_id if actor else None
        esc.first_resolved_at = esc.first_resolved_at or now
        esc.resolution_note = note
    elif move is Move.REOPEN:
        esc.acknowledged_at = esc.resolved_at = esc.closed_at = None
        esc.acknowledged_by = esc.resolved_by = None
        esc.level_since = now
        notify = True
    elif move is Move.CLOSE:
        esc.closed_at = now
    elif move is Move.REASSIGN and assignee is not None:
        esc.assignee_id, esc.assignee_name = assignee.id, assignee.name or assignee.handle
    esc.status = to_state
    _reschedule(esc, setting)
    return await _record(session, esc, setting, move=move, actor=actor, from_state=from_state, note=note,
                         now=now, notify=notify)


async def _change(db: Database, escalation_id: int, *, move: Move, actor: Actor | None, now: datetime,
                  note: str = "", assignee_handle: str | None = None) -> Escalation:
    for attempt in range(3):
        try:
            async with db.transaction() as session:
                esc = await get_escalation(session, escalation_id, lock=True)
                if esc is None and actor is not None:  # worded like "not yours": nobody learns which refs exist
                    raise AccessDenied(not_visible(f"ESC-{escalation_id}"))
                if esc is None:
                    raise EscalationNotFound(f"There is no escalation ESC-{escalation_id}.")
                assignee = None
                if assignee_handle is not None:
                    if actor is not None:  # before naming the escalation in an assignee error
                        require_view(actor, partner_id=esc.partner_id, category=esc.category,
                                     filed_by=esc.filed_by, ref=esc.ref)
                    assignee = await find_assignee(session, esc, assignee_handle)
                await _apply(session, esc, move=move, actor=actor, now=now, note=note, assignee=assignee)
            return esc
        except _Stale:
            if attempt == 2:
                raise TransitionRefused(f"ESC-{escalation_id} was changed by someone else just now; "
                                        "look at it again and retry.") from None
    raise AssertionError("unreachable")


async def find_assignee(session: AsyncSession, esc: Escalation, handle: str) -> User:
    """Return the user a handle names, if they may see the escalation; else raise ValueError."""
    rows = (await users_by_handle(session, [handle])).get(handle, [])
    allowed = [u for u in rows
               if can_view(actor_of(u), partner_id=esc.partner_id, category=esc.category, filed_by=esc.filed_by)]
    if not allowed:
        raise ValueError(f"'{handle}' is not a Liaison user who can see {esc.ref}.")
    return allowed[0]


async def acknowledge(db: Database, *, escalation_id: int, actor: Actor, now: datetime) -> Escalation:
    """Acknowledge: stops escalation and reminders."""
    return await _change(db, escalation_id, move=Move.ACKNOWLEDGE, actor=actor, now=now)


async def escalate_now(db: Database, *, escalation_id: int, actor: Actor, now: datetime) -> Escalation:
    """Move an open escalation to its next level at once."""
    return await _change(db, escalation_id, move=Move.ESCALATE, actor=actor, now=now)


async def reassign(db: Database, *, escalation_id: int, actor: Actor, assignee_handle: str, now: datetime,
                   note: str = "") -> Escalation:
    """Give the escalation to another user (a config handle) who may see it."""
    return await _change(db, escalation_id, move=Move.REASSIGN, actor=actor, now=now, note=note,
                         assignee_handle=assignee_handle)


async def add_note(db: Database, *, escalation_id: int, actor: Actor, note: str, now: datetime) -> Escalation:
    """Add a note to the history (any state)."""
    if not note.strip():
        raise ValueError("a note can't be empty")
    return await _change(db, escalation_id, move=Move.NOTE, actor=actor, now=now, note=note.strip())


async def resolve(db: Database, *, escalation_id: int, actor: Actor, note: str, now: datetime) -> Escalation:
    """Resolve an acknowledged escalation; a resolution note is required."""
    if not note.strip():
        raise ValueError("a resolution note is required")
    return await _change(db, escalation_id, move=Move.RESOLVE, actor=actor, now=now, note=note.strip())


async def reopen(db: Database, *, escalation_id: int, actor: Actor, now: datetime, note: str = "") -> Escalation:
    """Reopen a resolved or closed escalation at the level it had reached."""
    return await _change(db, escalation_id, move=Move.REOPEN, actor=actor, now=now, note=note)


async def close(db: Database, *, escalation_id: int, actor: Actor | None, now: datetime) -> Escalation:
    """Close a resolved escalation (the timer, or a client manager)."""
    return await _change(db, escalation_id, move=Move.CLOSE, actor=actor, now=now)


@dataclass(frozen=True, slots=True)
class TimerRun:
    escalated: tuple[str, ...] = ()
    reminded: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()


async def run_timers(db: Database, *, now: datetime) -> TimerRun:
    """Escalate, remind and close whatever is due at ``now``; running twice does nothing more."""
    async with db.session() as session:
        ids = await due_ids(session, now=now)
    escalated, reminded, closed = [], [], []
    for escalation_id in ids:
        try:
            async with db.transaction() as session:
                esc = await get_escalation(session, escalation_id, lock=True)
                if esc is None or esc.next_action_at is None or esc.next_action_at > now:
                    continue  # another runner got there first
                state = esc.state
                if state is State.OPEN and esc.escalate_at is not None and esc.escalate_at <= now:
                    await _apply(session, esc, move=Move.AUTO_ESCALATE, actor=None, now=now)
                    escalated.append(esc.ref)
                elif state is State.OPEN and esc.repeat_at is not None and esc.repeat_at <= now:
                    await _apply(session, esc, move=Move.REPEAT, actor=None, now=now)
                    reminded.append(esc.ref)
                elif state is State.RESOLVED and esc.close_at is not None and esc.close_at <= now:
                    await _apply(session, esc, move=Move.CLOSE, actor=None, now=now)
                    closed.append(esc.ref)
                else:
                    _reschedule(esc, await load_setting(session, esc.partner_id))
                    session.add(esc)
        except _Stale:
            continue  # another runner moved it; it is rescheduled there
    return TimerRun(tuple(escalated), tuple(reminded), tuple(closed))


# ---- measures ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EscalationMeasure:
    """One escalation's numbers for digests and QBRs."""

    ref: str
    partner_id: int
    severity: str
    category: str
    status: str
    opened_at: datetime
    time_to_acknowledge: timedelta | None
    time_to_resolve: timedelta | None
    levels_reached: int  # 1 = never left the first level


@dataclass(frozen=True, slots=True)
class MeasureSummary:
    """Escalations of one (partner, severity, category) group."""

    partner_id: int | None
    severity: str | None
    category: str | None
    count: int
    acknowledged: int
    resolved: int
    median_time_to_acknowledge: timedelta | None
    median_time_to_resolve: timedelta | None
    mean_levels_reached: float
    max_levels_reached: int


async def escalation_measures(session: AsyncSession, *, start: datetime, end: datetime,
                              partner_ids: list[int] | None = None, severities: list[str] | None = None,
                              categories: list[str] | None = None) -> list[EscalationMeasure]:
    """Return the measures of escalations opened in [start, end), optionally narrowed."""
    stmt = select(Escalation).where(Escalation.opened_at >= start, Escalation.opened_at < end).order_by(Escalation.id)
    if partner_ids is not None:
        stmt = stmt.where(Escalation.partner_id.in_(partner_ids))
    if severities is not None:
        stmt = stmt.where(Escalation.severity.in_(severities))
    if categories is not None:
        stmt = stmt.where(Escalation.category.in_(categories))
    out = []
    for esc in (await session.exec(stmt)).all():
        ack = esc.first_acknowledged_at - esc.opened_at if esc.first_acknowledged_at else None
        res = esc.first_resolved_at - esc.opened_at if esc.first_resolved_at else None
        out.append(EscalationMeasure(esc.ref, esc.partner_id, esc.severity, esc.category, esc.status,
                                     esc.opened_at, ack, res, esc.max_level + 1))
    return out


def _median(values: list[timedelta]) -> timedelta | None:
    return timedelta(seconds=median(v.total_seconds() for v in values)) if values else None


def summarize_measures(measures: list[EscalationMeasure], *,
                       by: tuple[str, ...] = ("partner_id", "severity", "category")) -> list[MeasureSummary]:
    """Group measures by any of partner_id / severity / category (the others become None)."""
    groups: dict[tuple, list[EscalationMeasure]] = {}
    for m in measures:
        key = tuple(getattr(m, f) if f in by else None for f in ("partner_id", "severity", "category"))
        groups.setdefault(key, []).append(m)
    out = []
    for (partner_id, severity, category), items in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        acks = [m.time_to_acknowledge for m in items if m.time_to_acknowledge is not None]
        res = [m.time_to_resolve for m in items if m.time_to_resolve is not None]
        levels = [m.levels_reached for m in items]
        out.append(MeasureSummary(partner_id, severity, category, len(items), len(acks), len(res),
                                  _median(acks), _median(res), sum(levels) / len(levels), max(levels)))
    return out
