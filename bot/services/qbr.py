"""QBRs: keep the schedule from the plan, remind both sides (T-14/T-7/T-1), build the pack, chase action items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.kpi import metric_label, target_text
from bot.compose.qbr import PackView, action_reminder, qbr_reminder
from bot.config.schema import QbrPlan
from bot.domain.access import Actor
from bot.domain.escalation import Category, counts_in_aggregate
from bot.domain.metrics import format_value
from bot.domain.qbr import PACK_DAYS, due_reminders, quarter_of, upcoming
from bot.domain.windows import parse_window
from bot.domain.wording import hours_minutes, plural
from bot.services.digest import PACK_METRICS
from bot.services.kpi_query import query_kpis
from bot.services.outbox import enqueue_to_route
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Partner, Target
from bot.store.policy import load_policy
from bot.store.qbr import Qbr, QbrActionItem

ACTION_LEAD = timedelta(days=2)  # owners hear about an action item this long before it is due

# Features add a part of their own to the pack (after escalations) with add_pack_part(heading, provider):
# (session, partner, quarter start, quarter end) -> lines.
PackProvider = Callable[[AsyncSession, Partner, datetime, datetime], Awaitable[list[str]]]
PACK_FEEDBACK: list[PackProvider] = []
PACK_HEADINGS: dict[PackProvider, str] = {}


def add_pack_part(heading: str, provider: PackProvider) -> None:
    """Register a feature's part of the QBR pack under its own heading (shown when it has lines)."""
    PACK_FEEDBACK.append(provider)
    PACK_HEADINGS[provider] = heading


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


def _category(value: str) -> str:
    try:
        return Category(value).label
    except ValueError:
        return value.replace("_", " ")


def _in_force(target: Target, start: datetime, until: datetime) -> bool:
    """Tell whether ``target`` was active for some of [start, until)."""
    if not target.active:
        return False
    if target.effective_from and target.effective_from >= until:
        return False
    return not (target.effective_to and target.effective_to <= start)


async def build_pack(session: AsyncSession, *, partner: Partner, quarter: str, now: datetime,
                     viewer: Actor | None = None) -> PackView:
    """Gather the quarter's KPIs vs targets, SLA compliance, breaches, escalations and open actions.

    Only time that has passed counts: a quarter still running is reviewed up to ``now`` and an
    open breach episode counts up to ``now``. Compliance is measured on the same episodes as the
    breaches: a target held if no breach episode of it overlaps the period. Escalations count only
    where ``viewer`` may see them (None: a channel, so no data-protection ones).
    """
    tz = ZoneInfo(partner.timezone)
    window = parse_window(quarter, now=now, tz=tz)
    start, end = window.start_utc, window.end_utc
    until = min(end, now)
    last_day = (min(window.end, now.astimezone(tz)) - timedelta(microseconds=1)).date()
    period = f"{window.start:%-d %b %Y} – {last_day:%-d %b %Y} ({partner.timezone})"
    if until < end:
        period = f"{quarter} to date: {period}"
    lines = await query_kpis(session, partners=[partner], metrics=list(PACK_METRICS), window_spec=quarter,
                             now=now, trend=1)
    episodes = (await session.execute(select(BreachEpisode).where(
        BreachEpisode.partner_id == partner.id, BreachEpisode.opened_at < until,
        or_(BreachEpisode.recovered_at.is_(None), BreachEpisode.recovered_at > start)).order_by(
        BreachEpisode.opened_at, BreachEpisode.id))).scalars().all()
    total = sum(((min(e.recovered_at or until, until) - max(e.opened_at, start)) for e in episodes), timedelta())
    still_open = sum(1 for e in episodes if e.recovered_at is None or e.recovered_at > until)
    targets = [t for t in (await session.execute(select(Target).where(Target.partner_id == partner.id)))
               .scalars().all() if _in_force(t, start, until)]
    breached = {e.target_id for e in episodes}
    held = [t for t in targets if t.id not in breached]
    if targets:
        compliance = (f"{len(held)} of {plural(len(targets), 'target')} held all period "
                      f"({round(100 * len(held) / len(targets))}%)")
        if len(held) < len(targets):
            compliance += f"; {len(targets) - len(held)} breached at least once"
    else:
        compliance = "no SLA targets in force"
    breaches = f"{plural(len(episodes), 'breach')}, {hours_minutes(total)} in total"
    if still_open:
        breaches += f" ({still_open} still open, counted up to {now.astimezone(tz):%-d %b %H:%M})"
    escalations = (await session.execute(select(Escalation).where(
        Escalation.partner_id == partner.id, Escalation.opened_at >= start, Escalation.opened_at < end, Escalation.opened_at <= now,
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
            f"{severity} {_category(category)}: {len(rows)} opened; mean time to acknowledge "
            f"{hours_minutes(sum(acks, timedelta()) / len(acks)) if acks else 'n/a'}, to resolve "
            f"{hours_minutes(sum(fixes, timedelta()) / len(fixes)) if fixes else 'n/a'}; "
            f"highest level L{max(e.max_level for e in rows) + 1}, {climbed} escalated past L1")
    actions = (await session.execute(select(QbrActionItem).where(
        QbrActionItem.partner_id == partner.id, QbrActionItem.status == "open").order_by(QbrActionItem.due_on)
    )).scalars().all()
    import bot.features  # noqa: F401  (registers the feature providers)

    feedback: list[str] = []
    parts: list[tuple[str, tuple[str, ...]]] = []
    for provider in PACK_FEEDBACK:
        part = await provider(session, partner, start, until)
        feedback += part
        if part:
            parts.append((PACK_HEADINGS.get(provider, "Feedback and reverse reports"), tuple(part)))
    return PackView(
        partner=partner.name, quarter=quarter, period=period,
        kpis=tuple((metric_label(line.metric, line.channel), format_value(line.metric, line.value),
                    target_text(line.metric, line.target.comparator, line.target.target_value)
                    if line.target else "-", line.status.text) for line in lines),
        sla_compliance=compliance, breaches=breaches,
        escalations=tuple(esc_lines), feedback=tuple(feedback), parts=tuple(parts),
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

