"""Build the APScheduler that runs every registered job inside `liaison serve`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core import Core
from bot.ports import ChatGateway
from bot.services import outbox
from bot.store.locks import try_hold
from jobs import deliver
from jobs.deliver import JOB_ID as DELIVER_JOB_ID
from jobs.registry import Job, all_jobs

log = logging.getLogger(__name__)


# Runs in progress in this process, so a graceful shutdown can let them finish.
RUNNING: set[asyncio.Task] = set()


def _runner(core: Core, job: Job):  # noqa: ANN202
    async def run() -> None:
        task = asyncio.current_task()
        if task is not None:
            RUNNING.add(task)
        try:
            if not job.exclusive:
                result = await job.run(core)
            else:
                # every replica's scheduler fires; the one that gets the job's lock does the work
                async with try_hold(core.db, f"job:{job.id}") as mine:
                    if not mine:
                        log.debug("job %s: another replica is running it", job.id)
                        return
                    result = await job.run(core)
            log.debug("job %s: %s", job.id, result)
        except Exception:  # a failing run must not kill the schedule; the next run retries
            log.exception("job %s failed", job.id)
        finally:
            if task is not None:
                RUNNING.discard(task)
    return run


async def drain(within: float) -> None:
    """Wait (up to ``within`` seconds) for the job runs in progress to finish; cancel the rest."""
    running = [t for t in RUNNING if not t.done()]
    if running:
        _done, pending = await asyncio.wait(running, timeout=within)
        for task in pending:
            log.warning("job run still going at shutdown; cancelling it")
            task.cancel()


def build_scheduler(core: Core, gateways: Mapping[str, ChatGateway] | None = None) -> AsyncIOScheduler:
    """Register every Job (interval or cron, UTC); overlapping runs coalesce, one instance each."""
    if gateways is not None:
        core.gateways = dict(gateways)
    scheduler = AsyncIOScheduler(timezone=UTC)
    for job in all_jobs():
        if job.every is not None:
            trigger = IntervalTrigger(seconds=job.every.total_seconds(), timezone=UTC)
        else:
            trigger = CronTrigger(timezone=UTC, **job.cron)
        scheduler.add_job(_runner(core, job), trigger, id=job.id, name=job.description or job.id,
                          coalesce=True, max_instances=1, misfire_grace_time=60,
                          next_run_time=datetime.now(UTC))  # start at once: drain what a restart left
    return scheduler


def wake_delivery(scheduler: AsyncIOScheduler) -> None:
    """Run the delivery job now (called after a commit that enqueued messages)."""
    deliver.WOKEN.set()  # a run in progress goes round again
    job = scheduler.get_job(DELIVER_JOB_ID)
    if job is not None:
        job.modify(next_run_time=datetime.now(UTC))


def attach_wake(scheduler: AsyncIOScheduler) -> Callable[[], None]:
    """Make every enqueuing commit wake the delivery job; return the listener (to detach it)."""

    def listener() -> None:
        wake_delivery(scheduler)

    outbox.add_commit_listener(listener)
    return listener
