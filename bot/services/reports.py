"""Reverse reports (client -> partner): create, acknowledge, remind, nudge, and the digest/QBR/Home lines.

Every change commits with its outbox rows: the report with its partner-channel card and client
copy, the acknowledgement with the card update and the sender's DM, each reminder and nudge
with its mark. The ``report`` command and the button/form handlers live in report_commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose import report as compose
from bot.config.schema import ClientProfile
from bot.domain.access import AccessDenied, Actor, Role
from bot.domain.reports import (
    KINDS,
    NUDGE_AFTER,
    REMINDER_BUSINESS_DAYS,
    add_business_days,
    duration_text,
    in_nudge_hours,
    kind_label,
)
from bot.domain.wording import possessive
from bot.messages import Section
from bot.services import digest, home, qbr
from bot.services.identity import preferred_identity
from bot.services.outbox import enqueue_direct, enqueue_to_route
from bot.store.db import Database
from bot.store.locks import locked_transaction
from bot.store.models import Partner, User
from bot.store.policy import load_policy
from bot.store.reports import ReportNudge, ReverseReport

PURPOSE = "reports"


class ReportNotFound(Exception):
    """No reverse report with that number (shown to the user as is)."""


def can_acknowledge(actor: Actor, partner_id: int) -> bool:
    """Only the partner's own users (and admins) acknowledge a report sent to that partner."""
    return actor.is_admin or (actor.is_partner and actor.partner_id == partner_id)


async def create_report(db: Database, *, actor: Actor, partner: Partner, kind: str, rating: int | None, text: str,
                        link: str, now: datetime) -> ReverseReport:
    """Store the report, post its card to the partner, copy the client, set its reminder; one transaction."""
    if not actor.is_client_side:
        raise AccessDenied("Reverse reports go from the client to partners; use `feedback` to tell the client "
                           "something.")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError("rating must be 1-5")
    if not text.strip():
        raise ValueError("text is required")
    async with db.transaction() as session:
        author = await session.get(User, actor.user_id) if actor.user_id else None
        report = ReverseReport(
            partner_id=partner.id, author_id=actor.user_id, author_handle=author.handle if author else "",
            author_name=actor.display, kind=kind, rating=rating, text=text.strip(), link=link.strip(),
            sent_at=now, reminder_due_at=add_business_days(now, REMINDER_BUSINESS_DAYS, partner.timezone))
        session.add(report)
        await session.flush()
        report.card_key = f"report:{report.id}:card"
        await enqueue_to_route(session, partner_id=partner.id, purpose=PURPOSE,
                               message=compose.report_card(report, partner_name=partner.name),
                               key=report.card_key, now=now)
        await enqueue_to_route(session, partner_id=None, purpose=PURPOSE,
                               message=compose.client_copy(report, partner_name=partner.name),
                               key=f"report:{report.id}:copy", now=now)
        session.add(report)
    return report


@dataclass(frozen=True, slots=True)
class AckOutcome:
    report: ReverseReport
    partner_name: str
    first: bool  # False: someone had already acknowledged it


async def acknowledge(db: Database, *, report_id: int, actor: Actor, now: datetime) -> AckOutcome:
    """Acknowledge once: update the card in place and DM the sender; a second press changes nothing."""
    async with db.transaction() as session:
        report = await session.get(ReverseReport, report_id)
        if report is None:
            raise ReportNotFound(f"There is no reverse report RR-{report_id}.")
        partner = await session.get(Partner, report.partner_id)
        if not can_acknowledge(actor, report.partner_id):
            raise AccessDenied(f"Only {possessive(partner.name)} team can acknowledge {report.ref}.")
        # the guarded UPDATE is the first write: of two presses at once, exactly one matches
        result = await session.execute(
            update(ReverseReport).where(ReverseReport.id == report_id, ReverseReport.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=actor.user_id, acknowledged_name=actor.display)
            .execution_options(synchronize_session=False))
        await session.refresh(report)
        if result.rowcount != 1:
            return AckOutcome(report, partner.name, first=False)
        await enqueue_to_route(session, partner_id=report.partner_id, purpose=PURPOSE,
                               message=compose.report_card(report, partner_name=partner.name),
                               key=f"{report.card_key}:ack", now=now, update_of=report.card_key)
        author = await session.get(User, report.author_id) if report.author_id else None
        if author is not None and author.active:
            await enqueue_direct(session, user=author,
                                 message=compose.acknowledged_dm(report, partner_name=partner.name),
                                 key=f"report:{report.id}:ack-dm", now=now)
    return AckOutcome(report, partner.name, first=True)


async def send_reminders(db: Database, *, now: datetime) -> list[str]:
    """Remind each partner once about every report unacknowledged past its due moment; return keys."""
    async with db.session() as session:
        ids = list((await session.execute(select(ReverseReport.id).where(
            ReverseReport.acknowledged_at.is_(None), ReverseReport.reminder_sent_at.is_(None),
            ReverseReport.reminder_due_at <= now).order_by(ReverseReport.id))).scalars().all())
    keys = []
    for report_id in ids:
        async with db.transaction() as session:
            result = await session.execute(
                update(ReverseReport).where(ReverseReport.id == report_id, ReverseReport.acknowledged_at.is_(None),
                                            ReverseReport.reminder_sent_at.is_(None))
                .values(reminder_sent_at=now).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                continue  # acknowledged or reminded by another runner meanwhile
            report = await session.get(ReverseReport, report_id)
            partner = await session.get(Partner, report.partner_id)
            key = f"report:{report_id}:reminder"
            await enqueue_to_route(session, partner_id=report.partner_id, purpose=PURPOSE,
                                   message=compose.reminder(report, partner_name=partner.name),
                                   key=key, now=now, thread_of=report.card_key)
            keys.append(key)
    return keys


async def client_timezone(session: AsyncSession) -> str:
    profile = await load_policy(session, None, "client", ClientProfile)
    return profile.timezone if profile is not None else "UTC"


async def send_nudges(db: Database, *, now: datetime) -> list[str]:
    """Nudge client managers who sent a partner nothing for NUDGE_AFTER; return the outbox keys.

    The clock for a (person, partner) pair starts at their last report to that partner, their
    last nudge, or the first run that saw them (stored as a ReportNudge row so nobody is
    nudged on day one). Nudges go out on workdays 09:00-17:00 in the client's timezone.
    """
    async with db.session() as session:
        tz = await client_timezone(session)
        clients = list((await session.execute(select(User).where(
            User.role == Role.CLIENT.value, User.active.is_(True), User.handle != "").order_by(User.id))).scalars().all())
        partners = list((await session.execute(select(Partner).where(Partner.active.is_(True))
                                                .order_by(Partner.slug))).scalars().all())
    by_handle: dict[str, list[User]] = {}
    for user in clients:
        by_handle.setdefault(user.handle, []).append(user)
    sending = in_nudge_hours(now, tz)
    keys: list[str] = []
    for handle, identities in by_handle.items():
        # under the person's nudge lock: a second runner waits, then sees the first one's marks
        async with locked_transaction(db, f"nudge:{handle}") as session:
            last_reports = dict((await session.execute(
                select(ReverseReport.partner_id, func.max(ReverseReport.sent_at))
                .where(ReverseReport.author_handle == handle).group_by(ReverseReport.partner_id))).all())
            last_nudges = dict((await session.execute(
                select(ReportNudge.partner_id, func.max(ReportNudge.sent_at))
                .where(ReportNudge.handle == handle).group_by(ReportNudge.partner_id))).all())
            for partner in partners:
                marks = [m for m in (last_reports.get(partner.id), last_nudges.get(partner.id)) if m is not None]
                if not marks:
                    session.add(ReportNudge(handle=handle, partner_id=partner.id, sent_at=now))  # first seen
                    continue
                if not sending or now - max(marks) < NUDGE_AFTER:
                    continue
                user = preferred_identity(identities)
                # keyed by the mark the quiet spell counts from, not the day: one nudge per spell,
                # whichever replica sends it and on whichever side of midnight
                key = f"report-nudge:{handle}:{partner.id}:{max(marks):%Y%m%dT%H%M%S}"
                await enqueue_direct(session, user=user,
                                     message=compose.nudge(partner_name=partner.name, partner_slug=partner.slug,
                                                           last_sent=last_reports.get(partner.id)),
                                     key=key, now=now)
                session.add(ReportNudge(handle=handle, partner_id=partner.id, sent_at=now))
                keys.append(key)
    return keys


# ---- measures: digest, QBR pack, Home --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReportStats:
    count: int
    by_kind: dict[str, int]
    acknowledged: int
    mean_ack: timedelta | None
    mean_rating: float | None


def report_stats(rows: Sequence[ReverseReport]) -> ReportStats:
    acks = [r.acknowledged_at - r.sent_at for r in rows if r.acknowledged_at is not None]
    ratings = [r.rating for r in rows if r.rating is not None]
    return ReportStats(count=len(rows), by_kind=dict(Counter(r.kind for r in rows)), acknowledged=len(acks),
                       mean_ack=sum(acks, timedelta()) / len(acks) if acks else None,
                       mean_rating=sum(ratings) / len(ratings) if ratings else None)


def _kinds_text(by_kind: dict[str, int]) -> str:
    # most frequent first; ties by name, so the line reads the same every week
    return ", ".join(f"{n} {kind_label(k).lower()}" for k, n in
                     sorted(by_kind.items(), key=lambda kv: (-kv[1], kind_label(kv[0]).lower())))


async def _reports_between(session: AsyncSession, partner_ids: Sequence[int], start: datetime,
                           end: datetime) -> list[ReverseReport]:
    if not partner_ids:
        return []
    return list((await session.execute(select(ReverseReport).where(
        ReverseReport.partner_id.in_(list(partner_ids)), ReverseReport.sent_at >= start,
        ReverseReport.sent_at < end).order_by(ReverseReport.id))).scalars().all())


async def digest_lines(session: AsyncSession, partners: Sequence[Partner], start: datetime, end: datetime,
                       with_partner: bool) -> list[str]:
    """Return one "What changed" line per partner that received reverse reports in the window."""
    rows = await _reports_between(session, [p.id for p in partners], start, end)
    lines = []
    for partner in partners:
        stats = report_stats([r for r in rows if r.partner_id == partner.id])
        if not stats.count:
            continue
        noun = "reverse report" if stats.count == 1 else "reverse reports"
        line = f"{stats.count} {noun} received ({_kinds_text(stats.by_kind)}), {stats.acknowledged} acknowledged"
        if stats.mean_ack is not None:
            line += f"; mean time to acknowledge {duration_text(stats.mean_ack)}"
        lines.append(f"{partner.name}: {line}" if with_partner else line)
    return lines


async def pack_lines(session: AsyncSession, partner: Partner, start: datetime, end: datetime) -> list[str]:
    """Return the QBR pack's reverse report lines: by kind, average rating, acknowledged share, time to ack."""
    stats = report_stats(await _reports_between(session, [partner.id], start, end))
    if not stats.count:
        return ["Reverse reports: none this quarter."]
    lines = [f"Reverse reports: {stats.count} ({_kinds_text(stats.by_kind)})"]
    lines.append("Average rating: " + (f"{stats.mean_rating:.1f}/5" if stats.mean_rating is not None
                                       else "no report was rated"))
    lines.append(f"Acknowledged: {stats.acknowledged} of {stats.count} ({stats.acknowledged * 100 // stats.count}%)")
    if stats.mean_ack is not None:
        lines.append(f"Mean time to acknowledge: {duration_text(stats.mean_ack)}")
    return lines


async def home_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    """Partner users: their unacknowledged reports. Client managers: partners without a report for 2 weeks."""
    if actor.is_partner and actor.partner_id is not None:
        rows = list((await session.execute(select(ReverseReport).where(
            ReverseReport.partner_id == actor.partner_id, ReverseReport.acknowledged_at.is_(None))
            .order_by(ReverseReport.id))).scalars().all())
        if not rows:
            return Section(heading="Reverse reports", text="No reverse report is waiting for acknowledgement.")
        partner = await session.get(Partner, actor.partner_id)
        zone = ZoneInfo(partner.timezone if partner is not None else "UTC")
        return Section(heading="Reverse reports to acknowledge", bullets=tuple(
            f"{r.ref} {kind_label(r.kind)} from {r.author_name or r.author_handle}, "
            f"sent {r.sent_at.astimezone(zone):%a %d %b %H:%M}" for r in rows))
    if actor.role is not Role.CLIENT or actor.user_id is None:
        return None
    user = await session.get(User, actor.user_id)
    if user is None or not user.handle:
        return None
    last = dict((await session.execute(
        select(ReverseReport.partner_id, func.max(ReverseReport.sent_at))
        .where(ReverseReport.author_handle == user.handle).group_by(ReverseReport.partner_id))).all())
    partners = (await session.execute(select(Partner).where(Partner.active.is_(True))
                                      .order_by(Partner.name))).scalars().all()
    quiet = [p for p in partners if last.get(p.id) is None or now - last[p.id] >= NUDGE_AFTER]
    if not quiet:
        return Section(heading="Reverse reports", text="You have sent every partner a reverse report in the last "
                                                       "2 weeks.")
    return Section(heading="Partners you have not reported on for 2 weeks", bullets=tuple(
        f"{p.name} (last {last[p.id].astimezone(ZoneInfo(p.timezone)):%Y-%m-%d}) — `report {p.slug}`"
        if last.get(p.id) else f"{p.name} (never) — `report {p.slug}`" for p in quiet))


digest.DIGEST_CHANGES.append(digest_lines)
qbr.add_pack_part("Reverse reports", pack_lines)
home.HOME_SECTIONS.append(home_section)

from bot.services import report_commands  # noqa: E402,F401  (registers the command, button and form)
