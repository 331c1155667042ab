"""End to end: the digest job's outbox row delivered as an Adaptive Card through the Teams gateway and fake Bot Connector."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from adapters.teams.gateway import gateway_from_core
from bot.core import Core
from bot.services.delivery import deliver_due
from bot.settings import Settings
from bot.store.models import Route
from jobs import digest as digest_job
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.test_digest import crafted

CONVERSATION = "19:acme-digests@thread.tacv2"


async def test_digest_job_delivered_to_teams_as_card(db, clock, make_partner):
    acme = await crafted(db, make_partner)
    connector = FakeBotConnector()
    await connector.start()
    try:
        core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
        async with db.transaction() as s:
            s.add(Route(partner_id=acme.id, purpose="digests", platform="teams", destination=CONVERSATION))
        await known_channel(core, connector.base_url, key=CONVERSATION, name="acme-digests", tenant_id=None)
        clock.set(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))  # Warsaw Monday 09:00
        assert await digest_job.run(core) == ["digest:acme:2026-W46"]
        report = await deliver_due(core, {"teams": gateway_from_core(core)})
        assert report.sent == 1
        [card] = connector.cards()
        text = json.dumps(card, ensure_ascii=False)
        assert "Weekly digest · Acme CX · 2026-W46" in text
        assert "What changed" in text and "CSAT improved +10.0 pp week over week" in text
        assert connector.calls[0].conversation == CONVERSATION
        # the trend chart rides inside the card, re-encoded small enough for the 28 KB limit
        [image] = [b for b in card["body"] if b.get("type") == "Image"]
        assert image["url"].startswith("data:image/png;base64,") and "over 8 weeks" in image["altText"]
        assert len(text.encode()) <= 28 * 1024
    finally:
        await connector.stop()
