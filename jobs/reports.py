"""Reverse report reminders (2 partner business days) and nudges to quiet client managers; idempotent."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.reports import send_nudges, send_reminders
from jobs.registry import Job


async def run(core: Core) -> list[str]:
    """Send every due reminder and nudge; return their outbox keys."""
    now = core.clock.now()
    return await send_reminders(core.db, now=now) + await send_nudges(core.db, now=now)


JOB = Job("reverse_reports", run, every=timedelta(minutes=15),
          description="Reverse report reminders after 2 partner business days and 2-week nudges to client managers")
