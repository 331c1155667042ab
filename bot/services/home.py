"""The Home page (Slack App Home; Teams personal "home" answer): what needs the viewer's attention.

Sections come from providers, in order; a feature adds its own (next QBRs, pulses, ...) by
appending to HOME_SECTIONS. Every provider gets the viewer and shows only what they may see.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.breach import open_breaches_section
from bot.compose.dashboard import dashboard_button
from bot.compose.kpi import kpi_row
from bot.compose.outbox import dead_letters_section
from bot.core import Core
from bot.domain.access import NOT_REGISTERED, Actor
from bot.domain.escalation import can_view
from bot.grammar import visible_partners
from bot.messages import Message, Section
from bot.services.dashboard_links import login_link
from bot.services.evaluation import open_episode_views
from bot.services.kpi_query import PORTFOLIO_METRICS, query_kpis
from bot.services.outbox import dead_letters
from bot.store.alerts import BreachEpisode, EpisodeStatus
from bot.store.escalations import Escalation
from bot.store.outbox import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

LIST_LIMIT = 20  # newest items a Home list shows; its heading counts them all
HomeProvider = Callable[[AsyncSession, Actor, datetime], Awaitable[Section | None]]


async def scorecard_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    partners = await visible_partners(session, actor)
    if not partners:
        return Section(heading="KPIs", text="No partners are configured yet.")
    lines = await query_kpis(session, partners=partners, metrics=list(PORTFOLIO_METRICS), window_spec="last-week",
                             now=now)
    heading = "Portfolio — last week" if actor.is_client_side else f"{partners[0].name} — last week"
    return Section(heading=heading, kpis=tuple(kpi_row(line, with_partner=actor.is_client_side) for line in lines))


async def breaches_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    ids = [p.id for p in await visible_partners(session, actor)]
    total = (await session.execute(select(func.count()).select_from(BreachEpisode).where(
        BreachEpisode.partner_id.in_(ids), BreachEpisode.status == EpisodeStatus.OPEN))).scalar_one()
    return open_breaches_section(await open_episode_views(session, partner_ids=ids), total=total)


async def escalations_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    partners = {p.id: p.name for p in await visible_partners(session, actor)}
    stmt = select(Escalation).where(Escalation.partner_id.in_(list(partners)),
                                    Escalation.status.in_(["open", "acknowledged"])).order_by(Escalation.id.desc())
    visible = [e for e in (await session.execute(stmt)).scalars().all()
               if can_view(actor, partner_id=e.partner_id, category=e.category, filed_by=e.filed_by)]
    if not visible:
        return Section(heading="Open escalations", text="No open escalations.")
    rows = visible[:LIST_LIMIT]
    more = (f"...and {len(visible) - len(rows)} older (newest {len(rows)} shown); `escalate list` shows all",) \
        if len(visible) > len(rows) else ()
    return Section(heading=f"Open escalations ({len(visible)})", bullets=tuple(
        f"ESC-{e.id} {e.severity} {partners[e.partner_id]}: {e.title} ({e.status}, level {e.level + 1})"
        for e in rows) + more)


async def dead_letter_section(session: AsyncSession, actor: Actor, now: datetime) -> Section | None:
    if not actor.is_admin:
        return None
    total = (await session.execute(select(func.count()).select_from(OutboxItem).where(
        OutboxItem.status == OutboxStatus.DEAD))).scalar_one()
    return dead_letters_section(await dead_letters(session), total=total)


HOME_SECTIONS: list[HomeProvider] = [scorecard_section, breaches_section, escalations_section, dead_letter_section]


async def home_message(core: Core, actor: Actor) -> Message:
    """Compose the viewer's Home: unregistered users learn how to get access, nothing else."""
    if not actor.registered:
        return Message(title="Welcome to Liaison", summary=NOT_REGISTERED, sections=(Section(
            text="Liaison posts SLA alerts, weekly KPI digests, escalations and QBR reminders for your BPO partners."),))
    import bot.features  # noqa: F401  (features add their Home sections at import)

    now = core.clock.now()
    sections = []
    async with core.db.session() as session:
        for provider in HOME_SECTIONS:
            try:
                section = await provider(session, actor, now)
            except Exception:
                await session.rollback()  # read-only: leaves the session usable after a failed statement
                # one broken section must not blank the whole Home; the rest still shows
                reference = uuid.uuid4().hex[:8]
                log.exception("home section %s failed (ref %s)", getattr(provider, "__name__", provider), reference)
                section = Section(heading="Unavailable",
                                  text=f"Part of this page could not be loaded (reference {reference}); the rest is current.")
            if section is not None:
                sections.append(section)
    who = "client view" if actor.is_client_side else f"partner view: {actor.partner_slug}"
    url, _ = login_link(core.settings, platform=actor.platform, platform_user_id=actor.platform_user_id, now=now)
    return Message(title="Liaison", summary=f"Hello {actor.display} ({who}).", sections=tuple(sections),
                   actions=(dashboard_button(url=url),),
                   context="Updated when you open this tab. Type /liaison help for commands.")
