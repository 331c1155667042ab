"""Evaluate SLA targets on a schedule (new windows since each target's mark)."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.services.evaluation import EvaluationReport, evaluate
from bot.settings import Settings
from jobs.registry import Job


async def run(core: Core) -> EvaluationReport:
    """Judge every target's windows completed since its mark; marks make a rerun do nothing."""
    return await evaluate(core)


JOB = Job("evaluate", run, every=timedelta(minutes=Settings().evaluation_interval_minutes),
          description="judge SLA targets, open/follow up/recover breach episodes, pre-breach warnings")
