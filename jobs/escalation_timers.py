"""Escalation timers: move unacknowledged escalations up, remind levels, close resolved ones."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.escalations import TimerRun, run_timers
from jobs.registry import Job


async def run(core: Core) -> TimerRun:
    """Do whatever escalation work is due at the clock's now; a second run at the same moment does nothing."""
    return await run_timers(core.db, now=core.clock.now())


JOB = Job("escalation_timers", run, every=timedelta(minutes=1),
          description="auto-escalate unacknowledged escalations, repeat reminders, auto-close resolved ones")
