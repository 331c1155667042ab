"""Every scheduled job, registered in one place. Jobs are thin: load -> service -> gateway.

A job is an async ``run(core)`` that reads the time from ``core.clock`` (so tests drive it
with a FrozenClock) and is idempotent per run key: running it twice for the same moment
does nothing the second time.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.core import Core


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    run: Callable[[Core], Awaitable[object]]
    every: timedelta | None = None  # interval trigger
    cron: dict = field(default_factory=dict)  # APScheduler CronTrigger fields (UTC), when no interval
    description: str = ""
    # at most one replica runs an exclusive job at a time (a per-job advisory lock on PostgreSQL);
    # delivery is not exclusive: every replica sends, one sender per destination at a time
    exclusive: bool = True


# The one visible list of job modules; each defines JOB (a Job) or JOBS (a list of Job).
JOB_MODULES: tuple[str, ...] = (
    "jobs.evaluate",
    "jobs.deliver",
    "jobs.escalation_timers",
    "jobs.digest",
    "jobs.qbr",
    "jobs.reports",
    "jobs.feedback",
    "jobs.staffing",
    "jobs.announcements",
    "jobs.housekeeping",
)


def all_jobs() -> list[Job]:
    """Return every registered job."""
    jobs: list[Job] = []
    for name in JOB_MODULES:
        module = importlib.import_module(name)
        jobs.extend(getattr(module, "JOBS", None) or [module.JOB])
    return jobs
