"""Feedback pulses: open each partner's round at its local day/time and send one reminder; idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.core import Core
from bot.services.feedback import run_partner
from bot.store.locks import locked_transaction
from bot.store.models import Partner
from jobs.registry import Job

log = logging.getLogger(__name__)


async def run(core: Core) -> list[str]:
    """Open every due pulse round and send every due reminder; return their outbox keys."""
    now = core.clock.now()
    async with core.db.session() as s:
        partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars().all())
    keys: list[str] = []
    for partner in partners:
        # one transaction per partner: the round, its invites and their DMs commit together
        try:
            async with locked_transaction(core.db, f"pulse:{partner.slug}") as s:
                sent = await run_partner(s, partner=partner, now=now)
        except IntegrityError:
            continue  # another runner opened this round at the same moment (uq_pulse_partner_period); it sends
        except Exception:  # one partner's failure must not stop the others
            log.exception("feedback pulse of partner %s failed; going on with the others", partner.slug)
            continue
        keys += sent  # only what committed
    return keys


JOB = Job("feedback_pulse", run, every=timedelta(minutes=15),
          description="Partner feedback pulses: open each round at the partner's local day/time, one reminder")
