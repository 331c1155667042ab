"""The demo's staffing step: forecasts and schedules arrive, the shortfall warning goes out, a what-if is asked."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from bot.commands import dispatch
from bot.core import Core
from bot.demo.staffing import staffing_rows
from bot.ingest.rows import RawRecord
from bot.messages_codec import message_from_dict
from bot.services.delivery import deliver_all
from bot.services.identity import resolve_actor
from bot.services.staffing_ingest import ingest_staffing
from bot.store.outbox import OutboxItem

Write = Callable[[str], object]


def _heading(write: Write, text: str) -> None:
    write(f"\n{'-' * 100}\n{text}\n{'-' * 100}")


async def _ask(core: Core, write: Write, text: str, *, user: str) -> None:
    actor = await resolve_actor(core, platform="console", platform_user_id=user)
    write(f"\n{user}> {text}")
    write(render(await dispatch(core, text=text, actor=actor, platform="console", channel="console")))


async def show_staffing(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """Load the forecast and the sites' schedules, show the warning posted to acme's alerts, then a what-if."""
    async with core.db.session() as session:
        rows = await staffing_rows(session, now=core.clock.now())
    records = [RawRecord(f"item {i}", row) for i, row in enumerate(rows)]
    report = await ingest_staffing(core, records, source="demo-wfm")  # runs the shortfall check too
    write(f"Forecast and schedules (as a partner's WFM export, through the ingest API's validation): "
          f"{report.summary()}.")
    if report.errors:
        for error in report.errors[:10]:
            write(f"  {error.render()}")
        return
    await deliver_all(core, preview, limit=500)
    async with core.db.session() as session:
        item = (await session.execute(select(OutboxItem).where(
            OutboxItem.key.like("staffing:%@slack:%"), OutboxItem.update_of.is_(None),
            OutboxItem.thread_of.is_(None)).order_by(OutboxItem.id).limit(1))).scalars().first()
    if item is None:
        write("No staffing shortfall in the next 14 days.")
    else:
        _heading(write, f"Pre-shortfall warning — Slack channel {item.destination} (chart uploaded in its thread)")
        write(render(message_from_dict(item.payload)))
    _heading(write, "What the partner sees: staffing at Kraków next week (/staffing acme krakow next-week)")
    await _ask(core, write, "staffing acme krakow voice next-week", user="acme-tl")
    _heading(write, "A what-if: 15% more volume next week, nothing stored (/staffing acme next-week volume +15%)")
    await _ask(core, write, "staffing acme next-week volume +15%", user="lead")

