"""Partner feedback pulses: open rounds, remind once, record answers, and the results/digest/QBR/Home lines.

Every change commits with its outbox rows: a round with its invites and their DMs, the reminder mark
with the reminders. Anonymity is kept by construction (see bot/store/feedback.py): an anonymous
answer stores no author, and results only show averages and comments for groups of MIN_GROUP answers.
The ``feedback`` command and the button/form handlers live in feedback_commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose import feedback as compose
from bot.config.schema import PulseSchedule
from bot.domain.access import AccessDenied, Actor, Role
from bot.domain.pulse import (
    KEYS,
    MIN_GROUP,
    averages_text,
    opens_at,
    period_of,
    rate_text,
    summarize,
)
from bot.messages import Section
from bot.services import digest, home, qbr
from bot.services.identity import preferred_identity
from bot.services.outbox import enqueue_direct
from bot.store.db import Database
from bot.store.feedback import FeedbackResponse, Pulse, PulseInvite
from bot.store.models import Partner, User
from bot.store.policy import load_policy

ADHOC_WINDOW = timedelta(days=90)
TREND_PERIODS = 6


class FeedbackRefused(Exception):
    """The answer cannot be recorded (shown to the user as is)."""


def handle_of(user: User) -> str:
    return user.handle or f"user-{user.id}"


async def partner_people(session: AsyncSession, partner_id: int) -> dict[str, User]:
    """Return the partner's active users, one identity per person (Slack, else Teams, else console)."""
    rows = list((await session.execute(select(User).where(
        User.partner_id == partner_id, User.role == Role.PARTNER.value, User.active.is_(True))
        .order_by(User.id))).scalars().all())
    people: dict[str, list[User]] = {}
    for user in rows:
        people.setdefault(handle_of(user), []).append(user)
    return {handle: preferred_identity(users) for handle, users in people.items()}


async def open_due_pulse(session: AsyncSession, *, partner: Partner, now: datetime) -> list[str]:
    """Open this period's round for the partner if its moment has passed; invite and DM each person once."""
    schedule = await load_policy(session, partner.id, "pulse", PulseSchedule)
    if schedule is None or not schedule.enabled or not partner.active:
        return []
    period = period_of(now, schedule.cadence, partner.timezone)
    opening = opens_at(period, day=schedule.day, at=schedule.time, tz=partner.timezone)
    if now < opening:
        return []
    existing = (await session.execute(select(Pulse.id).where(
        Pulse.partner_id == partner.id, Pulse.period == period))).first()
    if existing is not None:
        return []
    pulse = Pulse(partner_id=partner.id, period=period, opened_at=now,
                  reminder_due_at=now + schedule.reminder_after, anonymous_allowed=schedule.anonymous)
    session.add(pulse)
    await session.flush()
    keys = []
    message = compose.pulse_dm(pulse_id=pulse.id, period=period, partner_name=partner.name,
                               anonymous_allowed=pulse.anonymous_allowed)
    for handle, user in (await partner_people(session, partner.id)).items():
        session.add(PulseInvite(pulse_id=pulse.id, handle=handle))
        key = f"pulse:{pulse.id}:invite:{handle}"
        await enqueue_direct(session, user=user, message=message, key=key, now=now)
        keys.append(key)
    return keys


async def send_due_reminder(session: AsyncSession, *, partner: Partner, now: datetime) -> list[str]:
    """Send the round's single reminder to invitees who have not answered, once reminder_after has passed."""
    due = list((await session.execute(select(Pulse).where(
        Pulse.partner_id == partner.id, Pulse.reminder_sent_at.is_(None), Pulse.reminder_due_at <= now)
        .order_by(Pulse.id))).scalars().all())
    keys: list[str] = []
    for pulse in due:
        result = await session.execute(update(Pulse).where(Pulse.id == pulse.id, Pulse.reminder_sent_at.is_(None))
                                       .values(reminder_sent_at=now).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            continue
        latest = (await session.execute(select(func.max(Pulse.id)).where(Pulse.partner_id == partner.id))).scalar()
        if latest != pulse.id:
            continue  # a newer round already opened; do not remind about an old one
        waiting = set((await session.execute(select(PulseInvite.handle).where(
            PulseInvite.pulse_id == pulse.id, PulseInvite.answered.is_(False)))).scalars().all())
        people = await partner_people(session, partner.id)
        message = compose.pulse_reminder(pulse_id=pulse.id, period=pulse.period, partner_name=partner.name)
        for handle in sorted(waiting):
            user = people.get(handle)
            if user is None:
                continue  # left the partner since
            key = f"pulse:{pulse.id}:reminder:{handle}"
            await enqueue_direct(session, user=user, message=message, key=key, now=now)
            keys.append(key)
    return keys


async def run_partner(session: AsyncSession, *, partner: Partner, now: datetime) -> list[str]:
    return await open_due_pulse(session, partner=partner, now=now) + await send_due_reminder(
        session, partner=partner, now=now)


async def actor_handle(session: AsyncSession, actor: Actor) -> str | None:
    user = await session.get(User, actor.user_id) if actor.user_id else None
    return handle_of(user) if user is not None else None


async def waiting_pulse(session: AsyncSession, actor: Actor) -> Pulse | None:
    """Return the partner's latest round if this partner user was asked and has not answered yet."""
    if not actor.is_partner or actor.partner_id is None:
        return None
    pulse = (await session.execute(select(Pulse).where(Pulse.partner_id == actor.partner_id)
                                   .order_by(Pulse.id.desc()).limit(1))).scalars().first()
    handle = await actor_handle(session, actor)
    if pulse is None or handle is None:
        return None
    invite = (await session.execute(select(PulseInvite).where(
        PulseInvite.pulse_id == pulse.id, PulseInvite.handle == handle))).scalars().first()
    return pulse if invite is not None and not invite.answered else None


async def anonymous_allowed(session: AsyncSession, partner_id: int) -> bool:
    """Whether the partner's people may answer anonymously (the pulse policy; allowed when not configured)."""
    schedule = await load_policy(session, partner_id, "pulse", PulseSchedule)
    return schedule.anonymous if schedule is not None else True


def require_partner_user(actor: Actor) -> None:
    if not actor.registered:
        raise AccessDenied("I don't know you yet; ask the admin to add you to Liaison.")
    if not actor.is_partner or actor.partner_id is None:
        raise AccessDenied("Feedback pulses are for partner users to tell the client how the work goes. "
                           "To send a partner feedback from the client side, use `report`.")


async def check_pulse_for(session: AsyncSession, actor: Actor, pulse_id: int) -> tuple[Pulse, PulseInvite]:
    """Return the round and this person's invite, or refuse: other partner, not asked, already answered."""
    require_partner_user(actor)
    pulse = await session.get(Pulse, pulse_id)
    if pulse is None or pulse.partner_id != actor.partner_id:
        raise FeedbackRefused("That feedback pulse is not one for your team. Use `feedback` to send feedback.")
    handle = await actor_handle(session, actor)
    invite = (await session.execute(select(PulseInvite).where(
        PulseInvite.pulse_id == pulse.id, PulseInvite.handle == handle))).scalars().first()
    if invite is None:
        raise FeedbackRefused(f"You were not asked in the feedback pulse {pulse.period}. "
                              "You can still send feedback any time with `feedback`.")
    if invite.answered:
        raise FeedbackRefused(f"You have already answered the feedback pulse {pulse.period}; one answer per "
                              "person. You can still send more feedback any time with `feedback`.")
    return pulse, invite


async def record_answer(db: Database, *, actor: Actor, pulse_id: int | None, ratings: dict[str, int | None],
                        comment: str, anonymous: bool, now: datetime) -> FeedbackResponse:
    """Store one answer; for a round, mark the invite answered (guarded: a second answer is refused)."""
    require_partner_user(actor)
    if all(ratings.get(k) is None for k in KEYS) and not comment.strip():
        raise ValueError("give at least one rating or a comment")
    if any(v is not None and not 1 <= v <= 5 for v in ratings.values()):
        raise ValueError("ratings are 1-5")
    async with db.transaction() as session:
        if pulse_id is not None:
            pulse, invite = await check_pulse_for(session, actor, pulse_id)
            anonymous = anonymous and pulse.anonymous_allowed
            result = await session.execute(update(PulseInvite).where(
                PulseInvite.id == invite.id, PulseInvite.answered.is_(False)).values(answered=True)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise FeedbackRefused(f"You have already answered the feedback pulse {pulse.period}.")
        else:
            anonymous = anonymous and await anonymous_allowed(session, actor.partner_id)
        handle = None if anonymous else await actor_handle(session, actor)
        row = FeedbackResponse(partner_id=actor.partner_id, pulse_id=pulse_id, submitted_at=now, anonymous=anonymous,
                               author_handle=handle, author_name=None if anonymous else actor.display,
                               comment=comment.strip(), **{k: ratings.get(k) for k in KEYS})
        session.add(row)
    return row


# ---- results --------------------------------------------------------------------------------

def _comments(rows: Sequence[FeedbackResponse]) -> list[tuple[str | None, str]]:
    return [(None if r.anonymous else (r.author_name or r.author_handle), r.comment) for r in rows if r.comment]


async def _period_result(session: AsyncSession, pulse: Pulse) -> tuple[compose.PeriodResult, list[FeedbackResponse]]:
    rows = list((await session.execute(select(FeedbackResponse).where(FeedbackResponse.pulse_id == pulse.id)
                                       .order_by(FeedbackResponse.id))).scalars().all())
    invites = list((await session.execute(select(PulseInvite.answered).where(
        PulseInvite.pulse_id == pulse.id))).scalars().all())
    return compose.PeriodResult(pulse.period, sum(1 for a in invites if a), len(invites), summarize(rows)), rows


async def partner_results(session: AsyncSession, partner: Partner, period: str | None,
                          now: datetime) -> compose.PartnerResults:
    pulses = list((await session.execute(select(Pulse).where(Pulse.partner_id == partner.id)
                                         .order_by(Pulse.opened_at))).scalars().all())
    if period is not None:
        chosen = [p for p in pulses if p.period == period]
        if not chosen:
            known = ", ".join(p.period for p in pulses[-TREND_PERIODS:]) or "none yet"
            raise FeedbackRefused(f"{partner.name} has no feedback pulse for {period}; rounds: {known}.")
        upto = pulses[:pulses.index(chosen[0]) + 1]
    else:
        upto = pulses
    trend, current, comments = [], None, []
    for pulse in upto[-TREND_PERIODS:]:
        result, rows = await _period_result(session, pulse)
        trend.append(result)
        current, comments = result, _comments(rows)
    adhoc = list((await session.execute(select(FeedbackResponse).where(
        FeedbackResponse.partner_id == partner.id, FeedbackResponse.pulse_id.is_(None),
        FeedbackResponse.submitted_at >= now - ADHOC_WINDOW).order_by(FeedbackResponse.id))).scalars().all())
    return compose.PartnerResults(partner.name, current, trend, comments, summarize(adhoc), _comments(adhoc))


# ---- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS = ("partner", "round", "date", "anonymous", "author", *KEYS, "comment")


async def export_rows(session: AsyncSession, partner: Partner) -> tuple[list[dict[str, str]], int, int]:
    """Return the partner's answers as CSV rows, how many were withheld and how many ratings hidden.

    Anonymous rows have an empty author and only a date. Anonymous answers in a group (a round, or
    a month's ad-hoc feedback) of fewer than MIN_GROUP answers are withheld: alone they could be
    matched to the one person who answered.
    """
    tz = ZoneInfo(partner.timezone)
    periods = dict((await session.execute(select(Pulse.id, Pulse.period).where(
        Pulse.partner_id == partner.id))).all())
    rows = list((await session.execute(select(FeedbackResponse).where(FeedbackResponse.partner_id == partner.id)
                                       .order_by(FeedbackResponse.submitted_at, FeedbackResponse.id))).scalars().all())

    def group(r: FeedbackResponse) -> str:
        local = r.submitted_at.astimezone(tz)
        return periods.get(r.pulse_id, "") if r.pulse_id is not None else f"ad-hoc {local:%Y-%m}"

    sizes: dict[str, int] = {}
    # per group and question, how many anonymous answers rated it: an anonymous rating is shown
    # only among MIN_GROUP anonymous ratings of the same question (the named ones are known, so
    # counting them would let the anonymous one be worked out from an average)
    rated: dict[tuple[str, str], int] = {}
    for r in rows:
        sizes[group(r)] = sizes.get(group(r), 0) + 1
        for k in KEYS:
            if r.anonymous and getattr(r, k) is not None:
                rated[(group(r), k)] = rated.get((group(r), k), 0) + 1
    out, withheld, hidden = [], 0, 0
    for r in rows:
        if r.anonymous and sizes[group(r)] < MIN_GROUP:
            withheld += 1
            continue
        scores = {}
        for k in KEYS:
            value = getattr(r, k)
            if value is not None and r.anonymous and rated[(group(r), k)] < MIN_GROUP:
                value = None  # hidden: fewer than MIN_GROUP anonymous ratings of this question
                hidden += 1
            scores[k] = "" if value is None else str(value)
        out.append({"partner": partner.slug, "round": group(r), "date": f"{r.submitted_at.astimezone(tz):%Y-%m-%d}",
                    "anonymous": "yes" if r.anonymous else "no",
                    "author": "" if r.anonymous else (r.author_name or r.author_handle or ""),
                    **scores, "comment": r.comment})
    return out, withheld, hidden


# ---- digest, QBR pack, Home -------------------------------------------------------------------

async def digest_lines(session: AsyncSession, partners: Sequence[Partner], start: datetime, end: datetime,
                       with_partner: bool) -> list[str]:
    """Per partner: the latest round opened in the last quarter (rate and averages) and ad-hoc feedback count."""
    lines = []
    for partner in partners:
        parts = []
        pulse = (await session.execute(select(Pulse).where(
            Pulse.partner_id == partner.id, Pulse.opened_at < end, Pulse.opened_at >= end - timedelta(days=92))
            .order_by(Pulse.opened_at.desc()).limit(1))).scalars().first()
        if pulse is not None:
            result, _ = await _period_result(session, pulse)
            parts.append(f"Feedback pulse {pulse.period}: {rate_text(result.answered, result.asked)}; "
                         f"{averages_text(result.summary)}")
        adhoc = (await session.execute(select(func.count()).select_from(FeedbackResponse).where(
            FeedbackResponse.partner_id == partner.id, FeedbackResponse.pulse_id.is_(None),
            FeedbackResponse.submitted_at >= start, FeedbackResponse.submitted_at < end))).scalar() or 0
        if adhoc:
            parts.append(f"{adhoc} ad-hoc feedback answer{'s' if adhoc != 1 else ''} this week")
        for part in parts:
            lines.append(f"{partner.name}: {part}" if with_partner else part)
    return lines


async def pack_lines(session: AsyncSession, partner: Partner, start: datetime, end: datetime) -> list[str]:
    """The QBR pack: per question average over the quarter's rounds, response rate, number of comments."""
    pulses = list((await session.execute(select(Pulse).where(
        Pulse.partner_id == partner.id, Pulse.opened_at >= start, Pulse.opened_at < end)
        .order_by(Pulse.opened_at))).scalars().all())
    if not pulses:
        return ["Feedback pulse: no round this quarter."]
    ids = [p.id for p in pulses]
    rows = list((await session.execute(select(FeedbackResponse).where(
        FeedbackResponse.pulse_id.in_(ids)))).scalars().all())
    invites = list((await session.execute(select(PulseInvite.answered).where(
        PulseInvite.pulse_id.in_(ids)))).scalars().all())
    summary = summarize(rows)
    return [f"Feedback pulse ({', '.join(p.period for p in pulses)}): {averages_text(summary)}",
            f"Response rate: {rate_text(sum(1 for a in invites if a), len(invites))}",
            f"Comments: {summary.comments}"]


async def home_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    """Partner users: the feedback pulse waiting for their answer."""
    pulse = await waiting_pulse(session, actor)
    if pulse is None:
        return None
    return Section(heading="Feedback pulse", text=f"The feedback pulse {pulse.period} is waiting for your answer: "
                                                  "type `feedback` (it takes a minute).")


digest.DIGEST_CHANGES.append(digest_lines)
qbr.add_pack_part("Partner feedback pulse", pack_lines)
home.HOME_SECTIONS.append(home_section)

from bot.services import feedback_commands  # noqa: E402,F401  (registers the command, button and form)
