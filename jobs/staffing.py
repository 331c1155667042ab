"""Look for staffing shortfalls in the next days (also run after every forecast or schedule ingest)."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.staffing_warnings import WarningReport, warn_shortfalls
from jobs.registry import Job


async def run(core: Core) -> WarningReport:
    """Warn, update or close each partner's per-day shortfall warnings; a rerun with nothing new says nothing."""
    return await warn_shortfalls(core)


JOB = Job("staffing_warnings", run, every=timedelta(hours=1),
          description="pre-shortfall warnings: forecast vs schedule over the next 14 days")
