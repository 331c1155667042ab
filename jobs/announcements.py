"""Announcement reminders (half-way and at the deadline, partner business hours) and missing-sites reports."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.announcements import report_missing, send_reminders
from jobs.registry import Job


async def run(core: Core) -> list[str]:
    """Send every due reminder and missing-sites report; return their outbox keys (idempotent per moment)."""
    now = core.clock.now()
    return await send_reminders(core.db, now=now) + await report_missing(core.db, now=now)


JOB = Job("announcements", run, every=timedelta(minutes=15),
          description="Announcement reminders half-way and at the deadline in partner business hours; "
                      "missing sites to the author after the deadline")
