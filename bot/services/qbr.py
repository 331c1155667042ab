"""QBRs: keep the schedule from the plan, remind both sides (T-14/T-7/T-1), build the pack, chase action items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.qbr import PackView, action_reminder, qbr_reminder
from bot.config.schema import QbrPlan
from bot.domain.access import Actor
from bot.domain.escalation import counts_in_aggregate
from bot.domain.metrics import format_value
from bot.domain.qbr import PACK_DAYS, due_reminders, quarter_of, upcoming
from bot.domain.windows import parse_window
from bot.messages import Status
from bot.services.digest import PACK_METRICS
from bot.services.kpi_query import query_kpis
from bot.services.outbox import enqueue_to_route
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Partner
from bot.store.policy import load_policy
from bot.store.qbr import Qbr, QbrActionItem

ACTION_LEAD = timedelta(days=2)  # owners hear about an action item this long before it is due

# Features add lines to the pack's "Feedback and reverse reports" part by appending a provider:
# (session, partner, quarter start, quarter end) -> lines.
PackProvider = Callable[[AsyncSession, Partner, datetime, datetime], Awaitable[list[str]]]
PACK_FEEDBACK: list[PackProvider] = []


async def sync_schedule(session: AsyncSession, *, partner: Partner, now: datetime) -> list[Qbr]:
    """Add the plan's next meetings that are not in the table yet; return the scheduled future ones."""
    plan = await load_policy(session, partner.id, "qbr", QbrPlan)
    if plan is not None:
        for moment in upcoming(plan, now=now, tz=partner.timezone):
            exists = (await session.execute(select(Qbr.id).where(
                Qbr.partner_id == partner.id, Qbr.scheduled_at == moment))).first()
            if exists is None:
                session.add(Qbr(partner_id=partner.id, scheduled_at=moment, source="config"))
        await session.flush()
    return list((await session.execute(select(Qbr).where(
        Qbr.partner_id == partner.id, Qbr.status == "scheduled", Qbr.scheduled_at >= now,
    ).order_by(Qbr.scheduled_at))).scalars().all())


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


async def build_pack(session: AsyncSession, *, partner: Partner, quarter: str, now: datetime,
                     viewer: Actor | None = None) -> PackView:
    """Gather the quarter's KPIs vs targets, SLA compliance, breaches, escalations and open actions.

    Escalations count only where ``viewer`` may see them (None: a channel, so no data-protection ones).
    """
    window = parse_window(quarter, now=now, tz=ZoneInfo(partner.timezone))
    start, end = window.start_utc, window.end_utc
    lines = await query_kpis(session, partners=[partner], metrics=list(PACK_METRICS), window_spec=quarter,
                             now=now, trend=1)
    judged = [line for line in lines if line.status in (Status.OK, Status.WARNING, Status.BREACH)]
    met = sum(1 for line in judged if line.status is not Status.BREACH)
    compliance = f"{round(100 * met / len(judged))}% of KPIs with a target met it ({met} of {len(judged)})" \
        if judged else "no KPI with a target had data"
    episodes = (await session.execute(select(BreachEpisode).where(
        BreachEpisode.partner_id == partner.id, BreachEpisode.opened_at < end,
        or_(BreachEpisode.recovered_at.is_(None), BreachEpisode.recovered_at >= start)))).scalars().all()
    total = sum(((min(e.recovered_at or end, end) - max(e.opened_at, start)) for e in episodes), timedelta())
    escalations = (await session.execute(select(Escalation).where(
        Escalation.partner_id == partner.id, Escalation.opened_at >= start, Escalation.opened_at < end,
    ))).scalars().all()
    escalations = [e for e in escalations if counts_in_aggregate(viewer, partner_id=e.partner_id,
                                                                 category=e.category, filed_by=e.filed_by)]
    groups: dict[tuple[str, str], list[Escalation]] = {}
    for e in escalations:
        groups.setdefault((e.severity, e.category), []).append(e)
    esc_lines = []
    for (severity, category), rows in sorted(groups.items()):
        acks = [e.first_acknowledged_at - e.opened_at for e in rows if e.first_acknowledged_at]
        fixes = [e.first_resolved_at - e.opened_at for e in rows if e.first_resolved_at]
        climbed = sum(1 for e in rows if e.max_level > 0)
        esc_lines.append(
            f"{severity} {category}: {len(rows)} opened; mean time to acknowledge "
            f"{_hours(sum(acks, timedelta()) / len(acks)) if acks else 'n/a'}, to resolve "
            f"{_hours(sum(fixes, timedelta()) / len(fixes)) if fixes else 'n/a'}; "
            f"highest level L{max(e.max_level for e in rows) + 1}, {climbed} escalated past L1")
    actions = (await session.execute(select(QbrActionItem).where(
        QbrActionItem.partner_id == partner.id, QbrActionItem.status == "open").order_by(QbrActionItem.due_on)
    )).scalars().all()
    import bot.features  # noqa: F401  (registers the feature providers)

    feedback: list[str] = []
    for provider in PACK_FEEDBACK:
        feedback += await provider(session, partner, start, end)
    return PackView(
        partner=partner.name, quarter=quarter,
        kpis=tuple((line.metric.label, format_value(line.metric, line.value),
                    f"{line.target.comparator} {format_value(line.metric, line.target.target_value)}"
                    if line.target else "-", line.status.value) for line in lines),
        sla_compliance=compliance, breaches=f"{len(episodes)} breach(es), {_hours(total)} in total",
        escalations=tuple(esc_lines), feedback=tuple(feedback),
        open_actions=tuple(f"{a.title} — {a.owner}, due {a.due_on:%Y-%m-%d}" for a in actions),
    )


async def send_due_reminders(session: AsyncSession, *, partner: Partner, now: datetime) -> list[str]:
    """Enqueue due QBR reminders (pack at T-7) to the partner's and the client's qbr routes; return keys."""
    plan = await load_policy(session, partner.id, "qbr", QbrPlan)
    days = plan.reminders_days if plan else [14, 7, 1]
    keys = []
    for qbr in await sync_schedule(session, partner=partner, now=now):
        for reminder in due_reminders(qbr.scheduled_at, now=now, tz=partner.timezone, sent=qbr.sent_days, days=days):
            quarter = quarter_of(qbr.scheduled_at, partner.timezone)
            pack = await build_pack(session, partner=partner, quarter=quarter, now=now) \
                if reminder.days_before == PACK_DAYS else None
            message = qbr_reminder(partner=partner.name, tz=partner.timezone, meeting=qbr.scheduled_at,
                                   days_before=reminder.days_before, quarter=quarter, pack=pack,
                                   pack_command=f"qbr pack {partner.slug} {quarter}" if pack else None,
                                   slug=partner.slug)
            key = f"qbr:{partner.slug}:{qbr.id}:T-{reminder.days_before}"
            for side in (partner.id, None):
                await enqueue_to_route(session, partner_id=side, purpose="qbr", message=message, key=key, now=now)
            qbr.reminders_sent = ",".join(str(d) for d in [*qbr.sent_days, reminder.days_before])
            if pack is not None:
                qbr.pack_sent_at = now
            keys.append(key)
    return keys


async def send_action_reminders(session: AsyncSession, *, partner: Partner, now: datetime) -> list[str]:
    """Remind owners of open action items due within ACTION_LEAD (partner-local date), once each."""
    today = now.astimezone(ZoneInfo(partner.timezone)).date()
    items = (await session.execute(select(QbrActionItem).where(and_(
        QbrActionItem.partner_id == partner.id, QbrActionItem.status == "open",
        QbrActionItem.reminded_at.is_(None), QbrActionItem.due_on <= today + ACTION_LEAD)))).scalars().all()
    keys = []
    for item in items:
        key = f"qbr-action:{item.id}"
        await enqueue_to_route(session, partner_id=partner.id, purpose="qbr", message=action_reminder(
            partner=partner.name, title=item.title, owner=item.owner, due=f"{item.due_on:%Y-%m-%d}"), key=key, now=now)
        item.reminded_at = now
        keys.append(key)
    return keys

