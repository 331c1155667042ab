"""Weekly digests: on the configured day and local time (default Monday 09:00) in each recipient's timezone.

Runs every 15 minutes; a recipient is due once its local clock has passed the digest day and
time (and not more than GRACE later), and the digest covers the last complete week. Idempotent per (recipient, week): the
outbox key "digest:<slug>:<week>" is checked before anything is built.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config.schema import ClientProfile, DigestSchedule
from bot.core import Core
from bot.services.digest import build_digest, build_portfolio_digest, week_label
from bot.services.outbox import enqueue_to_route
from bot.store.locks import locked_transaction
from bot.store.models import Partner
from bot.store.outbox import OutboxItem
from bot.store.policy import load_policy
from jobs.registry import Job

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A digest more than this late (an outage, a first deploy mid-week) is skipped rather than sent stale.
GRACE = timedelta(days=2)


def due_week(schedule: DigestSchedule, *, now: datetime, tz: str) -> str | None:
    """Return the ISO week to send now (the last complete one), or None if the send moment hasn't come."""
    local = now.astimezone(ZoneInfo(tz))
    monday = local.date() - timedelta(days=local.weekday())
    send_day = monday + timedelta(days=DAYS.index(schedule.day))
    send_at = datetime.combine(send_day, schedule.time, ZoneInfo(tz))
    if not schedule.enabled or not send_at <= local < send_at + GRACE:
        return None
    return week_label(monday - timedelta(days=7))


async def _sent(session: AsyncSession, key: str) -> bool:
    found = await session.execute(select(OutboxItem.id).where(OutboxItem.key.startswith(f"{key}@")).limit(1))
    return found.first() is not None


async def run(core: Core) -> list[str]:
    """Enqueue every due partner and portfolio digest; return their keys."""
    now = core.clock.now()
    done: list[str] = []
    async with core.db.session() as s:
        partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars().all())
        client = await load_policy(s, None, "client", ClientProfile)
        client_schedule = await load_policy(s, None, "digest", DigestSchedule) or DigestSchedule()
    for partner in partners:
        try:
            # under the partner's digest lock: a second runner waits, then finds the key sent
            async with locked_transaction(core.db, f"digest:{partner.slug}") as s:
                schedule = await load_policy(s, partner.id, "digest", DigestSchedule) or DigestSchedule()
                week = due_week(schedule, now=now, tz=partner.timezone)
                key = f"digest:{partner.slug}:{week}"
                if week is None or await _sent(s, key):
                    continue
                _, message = await build_digest(s, partner=partner, now=now)
                await enqueue_to_route(s, partner_id=partner.id, purpose="digests", message=message, key=key, now=now)
        except Exception:  # one partner's failure must not cost the others their digest
            log.exception("digest of partner %s failed; going on with the others", partner.slug)
            continue
        done.append(key)
    tz = client.timezone if client else "UTC"
    week = due_week(client_schedule, now=now, tz=tz)
    key = f"digest:portfolio:{week}"
    if week is not None and partners:
        try:
            async with locked_transaction(core.db, "digest:portfolio") as s:
                if not await _sent(s, key):
                    _, message = await build_portfolio_digest(s, partners=partners, now=now)
                    await enqueue_to_route(s, partner_id=None, purpose="digests", message=message, key=key, now=now)
                    done.append(key)
        except Exception:
            log.exception("portfolio digest %s failed", key)
    return done


JOB = Job("digest", run, every=timedelta(minutes=15), description="weekly KPI digests and the portfolio digest")
