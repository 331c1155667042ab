"""Send due outbox rows every few seconds; the scheduler also wakes this job after enqueuing commits."""

from __future__ import annotations

import threading
from datetime import timedelta

from bot.core import Core
from bot.services.delivery import DeliveryReport, deliver_all
from bot.settings import Settings
from jobs.registry import Job

JOB_ID = "deliver"

# Set by jobs.scheduler.wake_delivery. APScheduler skips a wake while a run is going on (one
# instance at a time), so the run itself looks at this flag and goes round again instead of
# leaving a freshly committed message for the next interval tick.
WOKEN = threading.Event()


async def run(core: Core) -> DeliveryReport:
    """Deliver everything due through ``core.gateways``; sent rows are never claimed again."""
    total = DeliveryReport()
    while True:
        WOKEN.clear()
        report = await deliver_all(core, core.gateways)
        for name in ("claimed", "sent", "retried", "dead", "waiting"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors.extend(report.errors)
        if not WOKEN.is_set() or report.claimed == 0:
            return total


JOB = Job(JOB_ID, run, every=timedelta(seconds=Settings().delivery_interval_seconds),
          description="deliver the outbox: retries, Retry-After, pacing, dead letters", exclusive=False)
