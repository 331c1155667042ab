"""QBR reminders (T-14/T-7/T-1, the pack at T-7) and action-item reminders; idempotent per meeting and day."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot.core import Core
from bot.services.qbr import send_action_reminders, send_due_reminders
from bot.store.locks import locked_transaction
from bot.store.models import Partner
from jobs.registry import Job

log = logging.getLogger(__name__)


async def run(core: Core) -> list[str]:
    """Send every due QBR and action-item reminder; return their keys."""
    now = core.clock.now()
    async with core.db.session() as s:
        partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars().all())
    keys: list[str] = []
    for partner in partners:
        # one transaction per partner: the reminder marks and their outbox rows commit together,
        # under the partner's QBR lock (a second runner waits, then sees the marks)
        try:
            async with locked_transaction(core.db, f"qbr:{partner.slug}") as s:
                sent = await send_due_reminders(s, partner=partner, now=now)
                sent += await send_action_reminders(s, partner=partner, now=now)
        except Exception:  # one partner's failure (e.g. uq_qbr_partner_time) must not stop the others
            log.exception("QBR reminders of partner %s failed; going on with the others", partner.slug)
            continue
        keys += sent
    return keys


JOB = Job("qbr", run, every=timedelta(minutes=15), description="QBR reminders, packs and action-item reminders")
