"""Housekeeping: drop inbound request fingerprints once no replay or retry can match them any more."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.store.inbound_events import prune
from jobs.registry import Job


async def run(core: Core) -> int:
    """Prune ``inbound_event`` rows older than a day (the signature window is 5 minutes); return the count."""
    async with core.db.transaction() as session:
        return await prune(session, now=core.clock.now())


JOB = Job("housekeeping", run, every=timedelta(hours=1),
          description="prune inbound event/request fingerprints older than a day (replay de-duplication)")
