"""Warn before a staffing shortfall becomes a breach: one message per partner and local day, edited in place.

For the next ``warn_days`` local days the plan finds spans where the expected service level with
the scheduled agents is under the target minus the margin. A day's first shortfall posts a warning
to the partner's alerts route; a changed shortfall edits it and notes the change in its thread; a
schedule that closes the gap edits it to "closed" and says so in the thread. What was said is kept
(fingerprint), so a rerun says nothing; outbox keys are deterministic and the warning row is unique
per (partner, day), so replicas racing on the same partner commit once (the loser rolls back).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.staffing import (
    ShortfallView,
    shortfall_closed,
    shortfall_update,
    shortfall_warning,
)
from bot.compose.staffing_chart import Panel, staffing_chart
from bot.core import Core
from bot.services.outbox import enqueue_to_route
from bot.services.staffing import Plan, load_plan, local_days, shortfalls, staffing_policy
from bot.store.models import Partner
from bot.store.staffing import ForecastInterval, StaffingWarning, WarningStatus

log = logging.getLogger(__name__)


@dataclass
class WarningReport:
    partners: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    messages: int = 0
    skipped: int = 0  # partners another runner had in hand


def _fingerprint(spans: list[dict]) -> str:
    return hashlib.sha256(json.dumps(spans, sort_keys=True).encode()).hexdigest()[:32]


def _chart(plan: Plan, day, spans: list[dict]) -> bytes | None:  # noqa: ANN001
    """Required vs scheduled over the day for each site and channel that is short."""
    short = {(s["site"], s["channel"]) for s in spans}
    panels = []
    by_scope: dict[tuple, list] = {}
    for iv in plan.intervals:
        if plan.local_day(iv.start) == day:
            by_scope.setdefault((plan.site_name(iv.site_id) if plan.sites else "", iv.channel), []).append(iv)
    for (site, channel), ivs in sorted(by_scope.items()):
        if (site, channel) not in short:
            continue
        panels.append(Panel(label=" · ".join(x for x in (channel, site) if x),
                            ticks=tuple(iv.start.astimezone(plan.tz).strftime("%H:%M") for iv in ivs),
                            required=tuple(float(iv.need.required) for iv in ivs),
                            scheduled=tuple(iv.need.scheduled for iv in ivs)))
    if not panels:
        return None
    return staffing_chart(title=f"{plan.partner.name} {day:%a %d %b}: agents needed vs scheduled", panels=panels)


async def _lock_partner(session: AsyncSession, partner_id: int) -> None:
    """Serialize runners on one partner (PostgreSQL; the key includes the schema, so test runs never contend)."""
    if session.bind.dialect.name != "postgresql":
        return
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :name))"),
                          {"name": f":staffing-warnings:{partner_id}"})


def _base_key(partner_id: int, day: str) -> str:
    return f"staffing:{partner_id}:{day}"


async def _warn_partner(core: Core, partner: Partner, *, now: datetime, total: WarningReport) -> None:
    report = WarningReport()
    async with core.db.transaction() as session:
        await _lock_partner(session, partner.id)
        if (await session.execute(select(ForecastInterval.id).where(
                ForecastInterval.partner_id == partner.id).limit(1))).first() is None:
            return
        policy = await staffing_policy(session, partner.id)
        tz = ZoneInfo(partner.timezone)
        today = now.astimezone(tz).date()
        start, end = local_days(today, policy.warn_days, tz)
        plan = await load_plan(session, partner=partner, start=start, end=end)
        by_day: dict[str, list[dict]] = {}
        for s in shortfalls(plan):
            by_day.setdefault(s.day.isoformat(), []).append(s.as_dict(plan) | {"_end": s.end})
        existing = {w.day: w for w in (await session.execute(select(StaffingWarning).where(
            StaffingWarning.partner_id == partner.id, StaffingWarning.day >= today.isoformat(),
            StaffingWarning.day < (today + timedelta(days=plan.policy.warn_days)).isoformat()))).scalars().all()}
        note = None
        if plan.version is not None:
            received = plan.version.received_at.astimezone(plan.tz)
            note = f"Forecast version {plan.version.number}, received {received:%a %d %b %H:%M}"
        for day_key in sorted(set(by_day) | set(existing)):
            raw = by_day.get(day_key, [])
            # a span already over is not news: warn only about what can still be staffed
            spans = [{k: v for k, v in s.items() if k != "_end"} for s in raw]
            upcoming = any(s["_end"] > now for s in raw)
            warning = existing.get(day_key)
            day = datetime.fromisoformat(day_key).date()

            def view(spans_now: list[dict], day=day) -> ShortfallView:  # noqa: ANN001
                return ShortfallView(partner_name=partner.name, tz=partner.timezone, day=day, spans=tuple(spans_now),
                                     shrinkage=plan.policy.shrinkage, margin=plan.policy.margin, forecast_note=note,
                                     chart_png=_chart(plan, day, spans_now) if spans_now else None)

            base = _base_key(partner.id, day_key)
            if warning is None:
                if not spans or not upcoming:
                    continue
                fp = _fingerprint(spans)
                session.add(StaffingWarning(partner_id=partner.id, day=day_key, alert_key=base, fingerprint=fp,
                                            spans=spans, created_at=now, updated_at=now))
                await session.flush()
                items = await enqueue_to_route(session, partner_id=partner.id, purpose="alerts",
                                               message=shortfall_warning(view(spans)), key=base, now=now)
                report.opened += 1
                report.messages += len(items)
                continue
            fp = _fingerprint(spans) if spans else ""
            if fp == (warning.fingerprint if warning.status == WarningStatus.OPEN else ""):
                continue
            warning.revisions += 1
            n = warning.revisions
            if spans:
                thread_msg = shortfall_update(view(spans), revision=n)
                edit = shortfall_warning(view(spans))
                warning.status, warning.closed_at = WarningStatus.OPEN, None
                report.updated += 1
            else:
                edit = thread_msg = shortfall_closed(view([]), previous=warning.spans)
                warning.status, warning.closed_at = WarningStatus.CLOSED, now
                report.closed += 1
            warning.fingerprint, warning.updated_at = fp, now
            if spans:
                warning.spans = spans
            session.add(warning)
            for suffix, message, how in ((f":update:{n}", edit, "update"), (f":followup:{n}", thread_msg, "thread")):
                items = await enqueue_to_route(session, partner_id=partner.id, purpose="alerts", message=message,
                                               key=base + suffix, now=now,
                                               update_of=base if how == "update" else None,
                                               thread_of=base if how == "thread" else None)
                report.messages += len(items)
    # counted only once committed: a runner that lost the race reports nothing
    for name in ("opened", "updated", "closed", "messages"):
        setattr(total, name, getattr(total, name) + getattr(report, name))


async def warn_shortfalls(core: Core, *, partner_ids: Iterable[int] | None = None) -> WarningReport:
    """Check the next days of every (or the given) active partner; one transaction per partner."""
    report = WarningReport()
    now = core.clock.now()
    async with core.db.session() as session:
        stmt = select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)
        if partner_ids is not None:
            stmt = stmt.where(Partner.id.in_(list(partner_ids)))
        partners = list((await session.execute(stmt)).scalars().all())
    for partner in partners:
        report.partners += 1
        try:
            await _warn_partner(core, partner, now=now, total=report)
        except IntegrityError:  # another runner committed this partner's warnings first
            report.skipped += 1
            log.info("shortfall warnings for %s were written by another runner", partner.slug)
        except Exception:  # one partner's bad data must not stop the others
            report.skipped += 1
            log.exception("shortfall warnings for %s failed", partner.slug)
    return report


async def warnings_in(session: AsyncSession, *, partner_ids: list[int], start: datetime, end: datetime,
                      ) -> list[StaffingWarning]:
    """Return the warnings first posted in [start, end)."""
    return list((await session.execute(select(StaffingWarning).where(
        StaffingWarning.partner_id.in_(partner_ids), StaffingWarning.created_at >= start,
        StaffingWarning.created_at < end).order_by(StaffingWarning.day))).scalars().all())
