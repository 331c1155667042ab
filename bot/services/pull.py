"""Pull a helpdesk's data through a connector and ingest it like a file: validated, all or nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.connectors.base import Connector, PullResult
from bot.core import Core
from bot.services.ingest import IngestReport, ingest_rows
from bot.store.models import Partner


async def partner_timezones(core: Core) -> dict[str, str]:
    """Return every active partner's timezone by slug (connectors bucket days in it)."""
    async with core.db.session() as session:
        rows = (await session.execute(select(Partner.slug, Partner.timezone).where(Partner.active.is_(True)))).all()
    return {slug: tz for slug, tz in rows}


async def pull_into(core: Core, connector: Connector, *, since: datetime, until: datetime | None = None,
                    dry_run: bool = False) -> tuple[PullResult, IngestReport]:
    """Pull [since, until) (until defaults to now) and ingest the records in one transaction."""
    result = await connector.pull(since=since, until=until or core.clock.now())
    report = await ingest_rows(core, result.records, source=connector.name, dry_run=dry_run)
    return result, report
