"""Send due outbox rows every few seconds; the scheduler also wakes this job after enqueuing commits."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.delivery import DeliveryReport, deliver_all
from bot.settings import Settings
from jobs.registry import Job

JOB_ID = "deliver"


async def run(core: Core) -> DeliveryReport:
    """Deliver everything due through ``core.gateways``; sent rows are never claimed again."""
    return await deliver_all(core, core.gateways)


JOB = Job(JOB_ID, run, every=timedelta(seconds=Settings().delivery_interval_seconds),
          description="deliver the outbox: retries, Retry-After, pacing, dead letters")
