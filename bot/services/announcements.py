"""Announcements (change rollout): send, acknowledge per site, train, ask, edit, remind, report the missing.

Every change commits with its outbox rows: the announcement with each partner's card and the
client's copy, each acknowledgement with the card updates, each reminder with its mark. The
``announce`` command and the button/form handlers live in announcement_commands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose import announcement as compose
from bot.config.schema import BusinessHours, ClientProfile, EscalationPolicy
from bot.domain.access import AccessDenied, Actor
from bot.domain.announcements import (
    AUDIENCES,
    Audience,
    AudiencePartner,
    acts_for_site,
    duration_text,
    reminder_moments,
    resolve_audience,
)
from bot.messages import Message, Section
from bot.services import digest, home, qbr
from bot.services.outbox import enqueue_direct, enqueue_to_route
from bot.store.announcements import Announcement, AnnouncementPartner, AnnouncementSite
from bot.store.db import Database
from bot.store.models import Measurement, Partner, Route, Site, User
from bot.store.policy import PartnerPolicy, load_policy

PURPOSE = "announcements"
# Where a partner's announcements go when it has no `announcements` route: its main routes, in order.
PARTNER_FALLBACK = ("announcements", "reports", "alerts")
CLIENT_FALLBACK = ("announcements", "reports")
_DAY_INDEX = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}


class AnnouncementNotFound(Exception):
    """No announcement with that number the person may see (shown to them as is)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What the form gives: validated content, times in UTC, the audience."""

    title: str
    body: str
    category: str
    effective_at: datetime
    link: str = ""
    ack_deadline: datetime | None = None
    training_due: datetime | None = None
    audience: Audience = Audience()
    audience_doc: dict | None = None  # the audience as chosen (slugs, "partner/site" keys, channels)


# ---- lookups ------------------------------------------------------------------------------------

async def client_timezone(session: AsyncSession) -> str:
    """Return the client's timezone (forms are typed in it; the client's copy shows it), UTC if unset."""
    profile = await load_policy(session, None, "client", ClientProfile)
    return profile.timezone if profile is not None else "UTC"


async def route_purpose(session: AsyncSession, partner_id: int | None) -> str:
    """Return the first purpose in the fallback chain that has a route for the partner (None: client)."""
    cond = Route.partner_id.is_(None) if partner_id is None else Route.partner_id == partner_id
    have = set((await session.execute(select(Route.purpose).where(cond))).scalars().all())
    chain = CLIENT_FALLBACK if partner_id is None else PARTNER_FALLBACK
    return next((p for p in chain if p in have), chain[0])


async def business_hours(session: AsyncSession, partner_id: int) -> tuple[tuple[int, ...], time, time]:
    """Return the partner's business hours (weekdays, start, end): its escalation policy's, else Mon-Fri 9-17."""
    policy = await load_policy(session, partner_id, "escalation", EscalationPolicy)
    hours = policy.business_hours if policy is not None else BusinessHours()
    return tuple(_DAY_INDEX[d] for d in hours.days), hours.start, hours.end


async def audience_partners(session: AsyncSession) -> list[AudiencePartner]:
    """Return every active partner with its contact channels (config) and site ids, by name."""
    partners = (await session.execute(select(Partner).where(Partner.active.is_(True))
                                      .order_by(Partner.name))).scalars().all()
    sites = (await session.execute(select(Site).order_by(Site.name, Site.id))).scalars().all()
    channels = {row.partner_id: frozenset(row.document.get("channels", [])) for row in (await session.execute(
        select(PartnerPolicy).where(PartnerPolicy.kind == "channels"))).scalars().all()}
    by_partner: dict[int, list[int]] = defaultdict(list)
    for site in sites:
        by_partner[site.partner_id].append(site.id)
    return [AudiencePartner(p.id, channels.get(p.id, frozenset()), tuple(by_partner[p.id])) for p in partners]


async def _training_kpis(session: AsyncSession, rows: Sequence[AnnouncementSite],
                         since: datetime) -> dict[int, float]:
    """Return ingested training completion (%) per site row id, over periods ending after ``since``."""
    partner_ids = {r.partner_id for r in rows}
    if not partner_ids:
        return {}
    sums = (await session.execute(
        select(Measurement.partner_id, Measurement.scope_site, func.sum(Measurement.num), func.sum(Measurement.den))
        .where(Measurement.metric == "training_completion", Measurement.partner_id.in_(list(partner_ids)),
               Measurement.period_end > since)
        .group_by(Measurement.partner_id, Measurement.scope_site))).all()
    values = {(pid, scope): num * 100.0 / den for pid, scope, num, den in sums if den}
    # a partner without sites (scope_site 0) shows its partner-level rows
    return {row.id: values[(row.partner_id, row.scope_site)] for row in rows
            if (row.partner_id, row.scope_site) in values}


async def site_lines(session: AsyncSession, announcement: Announcement,
                     partner_ids: Sequence[int] | None = None) -> list[compose.SiteLine]:
    """Return the addressed sites (of ``partner_ids`` when given) with partner names and training KPIs."""
    stmt = select(AnnouncementSite).where(AnnouncementSite.announcement_id == announcement.id)
    if partner_ids is not None:
        stmt = stmt.where(AnnouncementSite.partner_id.in_(list(partner_ids)))
    rows = list((await session.execute(stmt.order_by(AnnouncementSite.id))).scalars().all())
    names = dict((await session.execute(select(Partner.id, Partner.name).where(
        Partner.id.in_(list({r.partner_id for r in rows}) or [-1])))).all())
    kpis = await _training_kpis(session, rows, announcement.sent_at)
    lines = [compose.SiteLine(r, names.get(r.partner_id, ""), kpis.get(r.id)) for r in rows]
    return sorted(lines, key=lambda s: (s.partner_name, s.row.site_name, s.row.id))


def audience_text(announcement: Announcement) -> str:
    doc = announcement.audience or {}
    kind = doc.get("kind", "all")
    text = AUDIENCES.get(kind, kind)
    if kind == "partners" and doc.get("partners"):
        text += ": " + ", ".join(doc["partners"])
    if kind == "sites" and doc.get("sites"):
        text += ": " + ", ".join(doc["sites"])
    if doc.get("channels"):
        text += " handling " + ", ".join(doc["channels"])
    return text


async def partner_card(session: AsyncSession, announcement: Announcement, partner: Partner) -> Message:
    lines = await site_lines(session, announcement, [partner.id])
    return compose.partner_card(announcement, partner_id=partner.id, partner_name=partner.name,
                                tz=partner.timezone, lines=lines)


async def client_copy(session: AsyncSession, announcement: Announcement) -> Message:
    return compose.client_copy(announcement, tz=await client_timezone(session),
                               lines=await site_lines(session, announcement), audience=audience_text(announcement))


async def _refresh_cards(session: AsyncSession, announcement: Announcement, *, partner_ids: Sequence[int],
                         suffix: str, now: datetime) -> None:
    """Enqueue in-place updates of the named partners' cards and of the client's copy."""
    for pid in partner_ids:
        delivery = (await session.execute(select(AnnouncementPartner).where(
            AnnouncementPartner.announcement_id == announcement.id,
            AnnouncementPartner.partner_id == pid))).scalar_one()
        partner = await session.get(Partner, pid)
        await enqueue_to_route(session, partner_id=pid, purpose=await route_purpose(session, pid),
                               message=await partner_card(session, announcement, partner),
                               key=f"{delivery.card_key}:{suffix}", now=now, update_of=delivery.card_key)
    await enqueue_to_route(session, partner_id=None, purpose=await route_purpose(session, None),
                           message=await client_copy(session, announcement),
                           key=f"{announcement.copy_key}:{suffix}", now=now, update_of=announcement.copy_key)


async def _schedule(session: AsyncSession, announcement: Announcement, delivery: AnnouncementPartner) -> None:
    """Set (or, after an edit, reset) a partner's reminder moments that have not gone out yet."""
    if announcement.ack_deadline is None:
        delivery.half_due_at = None if delivery.half_sent_at is None else delivery.half_due_at
        delivery.deadline_due_at = None if delivery.deadline_sent_at is None else delivery.deadline_due_at
        return
    partner = await session.get(Partner, delivery.partner_id)
    days, start, end = await business_hours(session, delivery.partner_id)
    half, last = reminder_moments(announcement.sent_at, announcement.ack_deadline, partner.timezone,
                                  days=days, start=start, end=end)
    if delivery.half_sent_at is None:
        delivery.half_due_at = half
    if delivery.deadline_sent_at is None:
        delivery.deadline_due_at = last
    session.add(delivery)


# ---- send ----------------------------------------------------------------------------------------

async def create_announcement(db: Database, *, actor: Actor, draft: Draft, now: datetime) -> Announcement:
    """Store the announcement and its sites, post each partner's card and the client copy; one transaction."""
    if not actor.is_client_side:
        raise AccessDenied("Only client managers and admins announce changes to partners.")
    async with db.transaction() as session:
        pairs = resolve_audience(await audience_partners(session), draft.audience)
        if not pairs:
            raise ValueError("The audience matches no partner site.")
        author = await session.get(User, actor.user_id) if actor.user_id else None
        announcement = Announcement(
            author_id=actor.user_id, author_handle=author.handle if author else "", author_name=actor.display,
            title=draft.title, body=draft.body, category=draft.category, effective_at=draft.effective_at,
            audience=draft.audience_doc or {"kind": draft.audience.kind}, link=draft.link,
            ack_deadline=draft.ack_deadline, training_due=draft.training_due, sent_at=now)
        session.add(announcement)
        await session.flush()
        announcement.copy_key = f"announcement:{announcement.id}:copy"
        sites = {s.id: s for s in (await session.execute(select(Site).where(
            Site.id.in_([sid for _, sid in pairs if sid is not None] or [-1])))).scalars().all()}
        partners: dict[int, Partner] = {}
        for pid, sid in pairs:
            if pid not in partners:
                partners[pid] = await session.get(Partner, pid)
            site = sites.get(sid) if sid is not None else None
            session.add(AnnouncementSite(announcement_id=announcement.id, partner_id=pid, site_id=sid,
                                         scope_site=sid or 0, site_key=site.key if site else "",
                                         site_name=site.name if site else partners[pid].name))
        await session.flush()
        for pid, partner in partners.items():
            delivery = AnnouncementPartner(announcement_id=announcement.id, partner_id=pid,
                                           card_key=f"announcement:{announcement.id}:card:{pid}")
            session.add(delivery)
            await _schedule(session, announcement, delivery)
            await session.flush()
            await enqueue_to_route(session, partner_id=pid, purpose=await route_purpose(session, pid),
                                   message=await partner_card(session, announcement, partner),
                                   key=delivery.card_key, now=now)
        await enqueue_to_route(session, partner_id=None, purpose=await route_purpose(session, None),
                               message=await client_copy(session, announcement), key=announcement.copy_key, now=now)
        session.add(announcement)
    return announcement


# ---- acknowledge, train, ask ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SiteOutcome:
    announcement: Announcement
    row: AnnouncementSite
    card: Message  # the presser's partner card as it is now
    first: bool  # False: someone had already acknowledged (or marked trained) this site


async def lock_announcement(session: AsyncSession, announcement_id: int) -> None:
    """Serialize the changes to one announcement's cards (PostgreSQL row lock; SQLite has one writer).

    Every card update renders the whole announcement: two acknowledgements of different sites at
    once must not each render a card without the other's, or the later-delivered one would undo it.
    """
    await session.execute(select(Announcement.id).where(Announcement.id == announcement_id).with_for_update())


async def _site_for(session: AsyncSession, site_row_id: int, actor: Actor) -> tuple[Announcement, AnnouncementSite]:
    row = await session.get(AnnouncementSite, site_row_id)
    if row is not None:
        await lock_announcement(session, row.announcement_id)
    announcement = await session.get(Announcement, row.announcement_id) if row is not None else None
    # a partner user learns nothing about other partners' announcements, not even that they exist
    if row is None or announcement is None or not actor.can_see_partner(row.partner_id):
        raise AnnouncementNotFound("That announcement is not addressed to you.")
    if not acts_for_site(actor, row.partner_id, row.site_key or None):
        if actor.is_client_side:
            raise AccessDenied(f"Only the site's own team acknowledges {announcement.ref} for {row.site_name}; "
                               f"client managers and admins see the status on the card.")
        raise AccessDenied(f"Only {row.site_name}'s team (or your partner's leads) can act for {row.site_name}.")
    return announcement, row


async def acknowledge(db: Database, *, site_row_id: int, actor: Actor, now: datetime) -> SiteOutcome:
    """Acknowledge one site once: the first press wins, the cards update in place, later presses change nothing."""
    async with db.transaction() as session:
        announcement, row = await _site_for(session, site_row_id, actor)
        if announcement.ack_deadline is None:
            raise AccessDenied(f"{announcement.ref} asks for no acknowledgement.")
        # the guarded UPDATE is the first write: of two presses at once, exactly one matches
        result = await session.execute(
            update(AnnouncementSite).where(AnnouncementSite.id == site_row_id,
                                           AnnouncementSite.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=actor.user_id, acknowledged_name=actor.display)
            .execution_options(synchronize_session=False))
        await session.refresh(row)
        partner = await session.get(Partner, row.partner_id)
        if result.rowcount == 1:
            await _refresh_cards(session, announcement, partner_ids=[row.partner_id], suffix=f"ack:{row.id}", now=now)
        card = await partner_card(session, announcement, partner)
    return SiteOutcome(announcement, row, card, first=result.rowcount == 1)


async def mark_trained(db: Database, *, site_row_id: int, agents: int, actor: Actor, now: datetime) -> SiteOutcome:
    """Record training done at one site with the number of agents trained (first record wins)."""
    async with db.transaction() as session:
        announcement, row = await _site_for(session, site_row_id, actor)
        if announcement.training_due is None:
            raise AccessDenied(f"{announcement.ref} asks for no training.")
        result = await session.execute(
            update(AnnouncementSite).where(AnnouncementSite.id == site_row_id, AnnouncementSite.trained_at.is_(None))
            .values(trained_at=now, agents_trained=agents, trained_by_name=actor.display)
            .execution_options(synchronize_session=False))
        await session.refresh(row)
        partner = await session.get(Partner, row.partner_id)
        if result.rowcount == 1:
            await _refresh_cards(session, announcement, partner_ids=[row.partner_id], suffix=f"trained:{row.id}",
                                 now=now)
        card = await partner_card(session, announcement, partner)
    return SiteOutcome(announcement, row, card, first=result.rowcount == 1)


async def addressed(session: AsyncSession, announcement_id: int, partner_id: int) -> AnnouncementPartner | None:
    return (await session.execute(select(AnnouncementPartner).where(
        AnnouncementPartner.announcement_id == announcement_id,
        AnnouncementPartner.partner_id == partner_id))).scalar_one_or_none()


async def sites_for(session: AsyncSession, announcement_id: int, partner_id: int,
                    actor: Actor) -> list[AnnouncementSite]:
    """Return the announcement's sites of one partner that ``actor`` acts for."""
    rows = (await session.execute(select(AnnouncementSite).where(
        AnnouncementSite.announcement_id == announcement_id, AnnouncementSite.partner_id == partner_id)
        .order_by(AnnouncementSite.site_name))).scalars().all()
    return [r for r in rows if acts_for_site(actor, partner_id, r.site_key or None)]


async def ask_question(db: Database, *, announcement_id: int, partner_id: int, question: str, actor: Actor,
                       now: datetime) -> Announcement:
    """Post a partner user's question in the card's thread and tell the author, in one transaction."""
    async with db.transaction() as session:
        announcement = await session.get(Announcement, announcement_id)
        delivery = await addressed(session, announcement_id, partner_id) if announcement is not None else None
        if delivery is None or not actor.can_see_partner(partner_id):
            raise AnnouncementNotFound("That announcement is not addressed to you.")
        if not (actor.is_partner and actor.partner_id == partner_id):
            raise AccessDenied("Questions come from the partner's team; answer in the card's thread instead.")
        partner = await session.get(Partner, partner_id)
        message = compose.question_message(announcement, asker=actor.display, partner_name=partner.name,
                                           question=question)
        key = f"announcement:{announcement_id}:question:{actor.user_id}:{now.isoformat()}"
        await enqueue_to_route(session, partner_id=partner_id, purpose=await route_purpose(session, partner_id),
                               message=message, key=key, now=now, thread_of=delivery.card_key)
        author = await session.get(User, announcement.author_id) if announcement.author_id else None
        if author is not None and author.active:
            await enqueue_direct(session, user=author, message=message, key=f"{key}:author", now=now)
    return announcement


# ---- edit ----------------------------------------------------------------------------------------

def _changes(before: Announcement, draft: Draft, tz: str) -> list[str]:
    out = []
    pairs = (("Title", before.title, draft.title), ("What changes", before.body, draft.body),
             ("Category", compose.category_label(before.category), compose.category_label(draft.category)),
             ("Effective", compose.when(before.effective_at, tz), compose.when(draft.effective_at, tz)),
             ("Link", before.link or "none", draft.link or "none"),
             ("Acknowledge by", compose.when(before.ack_deadline, tz) or "not asked",
              compose.when(draft.ack_deadline, tz) or "not asked"),
             ("Training due", compose.when(before.training_due, tz) or "not asked",
              compose.when(draft.training_due, tz) or "not asked"))
    for label, old, new in pairs:
        if old != new:
            out.append(f"{label}: changed" if label == "What changes" else f"{label}: {old} -> {new}")
    return out


async def edit_announcement(db: Database, *, announcement_id: int, actor: Actor, draft: Draft,
                            now: datetime) -> tuple[Announcement, list[str], int]:
    """Apply an edit: every card updates in place, each person who acknowledged gets what changed.

    Returns the announcement, the change lines (client time) and how many people were told.
    """
    if not actor.is_client_side:
        raise AccessDenied("Only client managers and admins edit announcements.")
    async with db.transaction() as session:
        await lock_announcement(session, announcement_id)
        announcement = await session.get(Announcement, announcement_id)
        if announcement is None:
            raise AnnouncementNotFound(f"There is no announcement AN-{announcement_id}.")
        changes = _changes(announcement, draft, await client_timezone(session))
        if not changes:
            return announcement, [], 0
        # bump the revision with a guarded UPDATE so two edits at once get distinct outbox keys
        await session.execute(update(Announcement).where(Announcement.id == announcement_id).values(
            revision=Announcement.revision + 1).execution_options(synchronize_session=False))
        await session.refresh(announcement)
        # a deadline moved into the future is a new deadline: its reminder and missing-sites report go out again
        extended = draft.ack_deadline is not None and draft.ack_deadline != announcement.ack_deadline \
            and draft.ack_deadline > now
        for name in ("title", "body", "category", "effective_at", "link", "ack_deadline", "training_due"):
            setattr(announcement, name, getattr(draft, name))
        announcement.edited_at = now
        if extended:
            announcement.missing_reported_at = None
        session.add(announcement)
        deliveries = (await session.execute(select(AnnouncementPartner).where(
            AnnouncementPartner.announcement_id == announcement_id).order_by(AnnouncementPartner.id))).scalars().all()
        for delivery in deliveries:
            if extended:
                delivery.deadline_sent_at = None
            await _schedule(session, announcement, delivery)
        await session.flush()
        await _refresh_cards(session, announcement, partner_ids=[d.partner_id for d in deliveries],
                             suffix=f"edit:{announcement.revision}", now=now)
        acked = (await session.execute(select(AnnouncementSite).where(
            AnnouncementSite.announcement_id == announcement_id, AnnouncementSite.acknowledged_by.is_not(None))
            .order_by(AnnouncementSite.id))).scalars().all()
        told: dict[int, list[str]] = defaultdict(list)
        for row in acked:
            told[row.acknowledged_by].append(row.site_name)
        for user_id, site_names in told.items():
            user = await session.get(User, user_id)
            if user is None or not user.active:
                continue
            partner = await session.get(Partner, user.partner_id) if user.partner_id else None
            local = _changes_in(changes, announcement, partner.timezone if partner else None)
            await enqueue_direct(session, user=user,
                                 message=compose.changed_dm(announcement, changes=local,
                                                            site_name=", ".join(site_names)),
                                 key=f"announcement:{announcement_id}:edit:{announcement.revision}:dm:{user_id}",
                                 now=now)
    return announcement, changes, len(told)


def _changes_in(changes: list[str], announcement: Announcement, tz: str | None) -> list[str]:
    """Return the change lines with their times restated in the reader's zone (their card shows that zone)."""
    if tz is None:
        return changes
    moments = {"Effective": announcement.effective_at, "Acknowledge by": announcement.ack_deadline,
               "Training due": announcement.training_due}
    out = []
    for line in changes:
        label = line.split(":", 1)[0]
        out.append(f"{label}: now {compose.when(moments[label], tz) or 'not asked'}" if label in moments else line)
    return out


# ---- reminders and the missing-sites report ---------------------------------------------------------

async def _waiting(session: AsyncSession, announcement_id: int, partner_id: int) -> list[AnnouncementSite]:
    return list((await session.execute(select(AnnouncementSite).where(
        AnnouncementSite.announcement_id == announcement_id, AnnouncementSite.partner_id == partner_id,
        AnnouncementSite.acknowledged_at.is_(None)).order_by(AnnouncementSite.site_name))).scalars().all())


async def send_reminders(db: Database, *, now: datetime) -> list[str]:
    """Remind each partner with waiting sites once half-way and once at the deadline; return outbox keys.

    The moments were moved into the partner's business hours when the announcement was sent (or
    edited). Each reminder is claimed with a guarded UPDATE in the transaction that enqueues it,
    so runs on two replicas at the same moment send it once.
    """
    keys: list[str] = []
    for stage, due_col, sent_col in (("half", AnnouncementPartner.half_due_at, AnnouncementPartner.half_sent_at),
                                     ("deadline", AnnouncementPartner.deadline_due_at,
                                      AnnouncementPartner.deadline_sent_at)):
        async with db.session() as session:
            ids = list((await session.execute(select(AnnouncementPartner.id).where(
                due_col.is_not(None), due_col <= now, sent_col.is_(None))
                .order_by(AnnouncementPartner.id))).scalars().all())
        for delivery_id in ids:
            async with db.transaction() as session:
                result = await session.execute(
                    update(AnnouncementPartner).where(AnnouncementPartner.id == delivery_id, sent_col.is_(None))
                    .values({sent_col.key: now}).execution_options(synchronize_session=False))
                if result.rowcount != 1:
                    continue  # another runner sent it meanwhile
                delivery = await session.get(AnnouncementPartner, delivery_id)
                waiting = await _waiting(session, delivery.announcement_id, delivery.partner_id)
                if not waiting:
                    continue  # every site acknowledged: the mark stays, nothing is sent
                announcement = await session.get(Announcement, delivery.announcement_id)
                partner = await session.get(Partner, delivery.partner_id)
                # an extended deadline (an edit) is a new round of reminders, under keys of its own
                key = f"{delivery.card_key}:reminder:{stage}" + (f":{announcement.revision}"
                                                                  if announcement.revision else "")
                await enqueue_to_route(session, partner_id=partner.id, purpose=await route_purpose(session, partner.id),
                                       message=compose.reminder(announcement, waiting=[w.site_name for w in waiting],
                                                                tz=partner.timezone, final=stage == "deadline"),
                                       key=key, now=now, thread_of=delivery.card_key)
                keys.append(key)
    return keys


async def report_missing(db: Database, *, now: datetime) -> list[str]:
    """After each deadline, send the author the sites that did not acknowledge (once); return outbox keys."""
    async with db.session() as session:
        ids = list((await session.execute(select(Announcement.id).where(
            Announcement.ack_deadline.is_not(None), Announcement.ack_deadline <= now,
            Announcement.missing_reported_at.is_(None)).order_by(Announcement.id))).scalars().all())
    keys = []
    for announcement_id in ids:
        async with db.transaction() as session:
            result = await session.execute(
                update(Announcement).where(Announcement.id == announcement_id,
                                           Announcement.missing_reported_at.is_(None))
                .values(missing_reported_at=now).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                continue
            announcement = await session.get(Announcement, announcement_id)
            lines = await site_lines(session, announcement)
            missing = [f"{s.partner_name} / {s.row.site_name}" if s.row.site_name != s.partner_name else s.partner_name
                       for s in lines if s.row.acknowledged_at is None or s.row.acknowledged_at > announcement.ack_deadline]
            author = await session.get(User, announcement.author_id) if announcement.author_id else None
            if not missing or author is None or not author.active:
                continue
            key = f"announcement:{announcement_id}:missing" + (f":{announcement.revision}"
                                                                 if announcement.revision else "")
            await enqueue_direct(session, user=author, key=key, now=now, message=compose.missing_report(
                announcement, missing=missing, total=len(lines), tz=await client_timezone(session)))
            keys.append(key)
    return keys


# ---- measures: digest, QBR pack, Home --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RolloutStats:
    count: int  # announcements that reached the partners
    asked: int  # addressed sites asked to acknowledge
    on_time: int  # of those, acknowledged by the deadline
    mean_ack: timedelta | None
    missed: tuple[str, ...]  # sites past the deadline without an acknowledgement by it


async def rollout_stats(session: AsyncSession, partner_ids: Sequence[int], start: datetime, end: datetime,
                        now: datetime, *, with_partner: bool) -> RolloutStats:
    """Measure the announcements sent in [start, end) to ``partner_ids``' sites (only those sites count)."""
    if not partner_ids:
        return RolloutStats(0, 0, 0, None, ())
    rows = (await session.execute(
        select(AnnouncementSite, Announcement, Partner.name).join(Announcement, Announcement.id ==
                                                                   AnnouncementSite.announcement_id)
        .join(Partner, Partner.id == AnnouncementSite.partner_id)
        .where(AnnouncementSite.partner_id.in_(list(partner_ids)), Announcement.sent_at >= start,
               Announcement.sent_at < end).order_by(Announcement.id, Partner.name, AnnouncementSite.site_name))).all()
    count = len({a.id for _, a, _ in rows})
    asked = [(s, a, name) for s, a, name in rows if a.ack_deadline is not None]
    on_time = [s for s, a, _ in asked if s.acknowledged_at is not None and s.acknowledged_at <= a.ack_deadline]
    waits = [s.acknowledged_at - a.sent_at for s, a, _ in asked if s.acknowledged_at is not None]
    missed = []
    for s, a, name in asked:
        if a.ack_deadline <= now and (s.acknowledged_at is None or s.acknowledged_at > a.ack_deadline):
            site = s.site_name if s.site_name != name else ""
            label = (f"{name} / {site}" if site else name) if with_partner else (site or name)
            missed.append(f"{label} ({a.ref})")
    return RolloutStats(count, len(asked), len(on_time), sum(waits, timedelta()) / len(waits) if waits else None,
                        tuple(missed))


def _stats_text(stats: RolloutStats) -> str:
    noun = "change" if stats.count == 1 else "changes"
    text = f"{stats.count} {noun} rolled out"
    if stats.asked:
        text += f", {stats.on_time * 100 // stats.asked}% of sites acknowledged on time ({stats.on_time} of {stats.asked})"
    if stats.mean_ack is not None:
        text += f", mean time to acknowledge {duration_text(stats.mean_ack)}"
    if stats.missed:
        text += "; missed: " + ", ".join(stats.missed[:10]) + (f" and {len(stats.missed) - 10} more"
                                                               if len(stats.missed) > 10 else "")
    return text


async def digest_lines(session: AsyncSession, partners: Sequence[Partner], start: datetime, end: datetime,
                       with_partner: bool) -> list[str]:
    """Return one "What changed" line: over the digest's partners (portfolio) or for its one partner."""
    stats = await rollout_stats(session, [p.id for p in partners], start, end, end, with_partner=with_partner)
    if not stats.count:
        return []
    return [f"Announcements: {_stats_text(stats)}"]


async def pack_lines(session: AsyncSession, partner: Partner, start: datetime, end: datetime) -> list[str]:
    """Return the QBR pack's change rollout lines for one partner."""
    stats = await rollout_stats(session, [partner.id], start, end, end, with_partner=False)
    if not stats.count:
        return ["Changes rolled out: none this quarter."]
    lines = [f"Changes rolled out: {stats.count}"]
    if stats.asked:
        lines.append(f"Acknowledged on time: {stats.on_time} of {stats.asked} site acknowledgements "
                     f"({stats.on_time * 100 // stats.asked}%)")
    if stats.mean_ack is not None:
        lines.append(f"Mean time to acknowledge: {duration_text(stats.mean_ack)}")
    lines.append("Sites that missed a deadline: " + (", ".join(stats.missed) if stats.missed else "none"))
    return lines


async def home_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    """Partner users: what waits for their acknowledgement. Client managers and admins: open rollouts."""
    if actor.is_partner and actor.partner_id is not None:
        rows = (await session.execute(
            select(AnnouncementSite, Announcement).join(Announcement, Announcement.id ==
                                                        AnnouncementSite.announcement_id)
            .where(AnnouncementSite.partner_id == actor.partner_id, AnnouncementSite.acknowledged_at.is_(None),
                   Announcement.ack_deadline.is_not(None)).order_by(Announcement.id, AnnouncementSite.site_name))).all()
        mine = [(s, a) for s, a in rows if acts_for_site(actor, s.partner_id, s.site_key or None)]
        if not mine:
            return Section(heading="Announcements", text="No announcement is waiting for your acknowledgement.")
        partner = await session.get(Partner, actor.partner_id)
        tz = partner.timezone if partner is not None else "UTC"
        return Section(heading="Announcements to acknowledge", bullets=tuple(
            f"{a.ref} {a.title} for {s.site_name}, by {compose.when(a.ack_deadline, tz)}"
            + (" (overdue)" if a.ack_deadline <= now else "") for s, a in mine[:20]))
    if not actor.is_client_side:
        return None
    rows = (await session.execute(
        select(Announcement.id, func.count(AnnouncementSite.id), func.count(AnnouncementSite.acknowledged_at))
        .join(AnnouncementSite, AnnouncementSite.announcement_id == Announcement.id)
        .where(Announcement.ack_deadline.is_not(None)).group_by(Announcement.id)
        .order_by(Announcement.id.desc()))).all()
    open_ids = [(aid, total, acked) for aid, total, acked in rows if acked < total][:10]
    if not open_ids:
        return Section(heading="Open rollouts", text="Every announcement is acknowledged by all its sites.")
    tz = await client_timezone(session)
    bullets = []
    for aid, total, acked in open_ids:
        a = await session.get(Announcement, aid)
        late = " — past the deadline" if a.ack_deadline <= now else f" — due {compose.when(a.ack_deadline, tz)}"
        bullets.append(f"{a.ref} {a.title}: {acked} of {total} sites acknowledged{late}")
    return Section(heading="Open rollouts", bullets=tuple(bullets))


digest.DIGEST_CHANGES.append(digest_lines)
qbr.add_pack_part("Changes rolled out", pack_lines)
home.HOME_SECTIONS.append(home_section)

from bot.services import announcement_commands  # noqa: E402,F401  (registers the command, buttons and forms)
