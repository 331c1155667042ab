"""End to end: QBR reminders (T-7 with its pack) delivered as Adaptive Cards through the Teams gateway
and the fake Bot Connector, and the whole pack read in Teams with `qbr pack`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from adapters.teams.gateway import gateway_from_core
from bot.commands import dispatch
from bot.core import Core
from bot.services.delivery import deliver_due
from bot.settings import Settings
from bot.store.models import Route
from bot.store.qbr import QbrActionItem
from jobs import qbr as qbr_job
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.test_qbr import setup

PARTNER_CHAT = "19:northwind-qbr@thread.tacv2"
T7 = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)  # Manila 14:00, seven days before the QBR


async def test_qbr_t7_reminder_reaches_teams_as_a_card_with_the_pack_summary(db, clock, make_partner, make_user):
    northwind = await setup(db, make_partner)
    connector = FakeBotConnector()
    await connector.start()
    try:
        core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
        async with db.transaction() as s:
            s.add(Route(partner_id=northwind.id, purpose="qbr", platform="teams", destination=PARTNER_CHAT))
            s.add(QbrActionItem(partner_id=northwind.id, title="Cut AHT on <returns> & refunds", owner="@maria",
                                due_on=datetime(2027, 2, 1).date(), created_at=clock.now()))
        await known_channel(core, connector.base_url, key=PARTNER_CHAT, name="northwind-qbr", tenant_id=None)
        clock.set(T7 - timedelta(days=7))
        assert [k.rsplit(":", 1)[1] for k in await qbr_job.run(core)] == ["T-14"]
        clock.set(T7)
        assert [k.rsplit(":", 1)[1] for k in await qbr_job.run(core)] == ["T-7"]
        report = await deliver_due(core, {"teams": gateway_from_core(core)})
        assert report.sent == 2  # the Teams rows (setup also routes both sides to Slack, not served here)
        t14, t7 = connector.cards()
        assert "QBR with Northwind BPO in 14 days" in json.dumps(t14, ensure_ascii=False)
        text = json.dumps(t7, ensure_ascii=False)
        assert "QBR with Northwind BPO in 7 days" in text and "Wed 20 Jan 2027 14:00 (Asia/Manila)" in text
        assert "Preparation checklist" in text and "QBR pack · 2026-Q4" in text
        assert "Open action items" in text and "type `qbr pack northwind 2026-Q4` to read it in chat" in text
        assert all(c.conversation == PARTNER_CHAT for c in connector.calls if c.verb != "create")

        # the pack in chat, by a Teams user of that partner; another partner's user is refused
        tl = await make_user("29:nw-tl", role="partner", partner=northwind, platform="teams")
        pack = await dispatch(core, text="qbr pack northwind 2026-Q4", actor=tl, platform="teams")
        assert pack.title == "QBR pack · Northwind BPO · 2026-Q4"
        assert pack.sections[-1].bullets == ("Cut AHT on <returns> & refunds — @maria, due 2027-02-01",)
        other = await make_user("29:acme", role="partner", partner=await make_partner("acme"), platform="teams")
        refused = await dispatch(core, text="qbr pack northwind 2026-Q4", actor=other, platform="teams")
        assert refused.title != pack.title and "that you can see" in (refused.summary or "") and "Northwind" not in (refused.summary or "")
    finally:
        await connector.stop()
