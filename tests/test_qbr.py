"""QBR job: schedule from the plan, T-14/T-7/T-1 reminders to both sides, pack at T-7, action reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.compose.qbr import pack_markdown
from bot.services.qbr import build_pack
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Route, Target
from bot.store.outbox import OutboxItem
from bot.store.policy import PartnerPolicy
from bot.store.qbr import QbrActionItem
from jobs import qbr as qbr_job

MEETING = datetime(2027, 1, 20, 14)  # Manila local


async def setup(db, make_partner):  # noqa: ANN001
    partner = await make_partner("northwind", name="Northwind BPO", tz="Asia/Manila", sites=("manila",))
    async with db.transaction() as s:
        s.add(PartnerPolicy(partner_id=partner.id, scope_partner=partner.id, kind="qbr",
                            document={"cadence": "dates", "dates": [MEETING.isoformat()]}))
        s.add(Route(partner_id=partner.id, purpose="qbr", platform="slack", destination="C0NWQBR"))
        s.add(Route(partner_id=None, purpose="qbr", platform="slack", destination="C0LEADQBR"))
    return partner


async def outbox_keys(db) -> list[str]:  # noqa: ANN001
    async with db.session() as s:
        return sorted((await s.execute(select(OutboxItem.key))).scalars().all())


async def test_qbr_job_reminders_t14_t7_t1_manila_once_each(db, core, clock, make_partner):
    await setup(db, make_partner)
    clock.set(datetime(2027, 1, 6, 5, 59, tzinfo=UTC))  # Manila 13:59, T-14 is at 14:00
    assert await qbr_job.run(core) == []
    clock.set(datetime(2027, 1, 6, 6, 0, tzinfo=UTC))
    [t14] = await qbr_job.run(core)
    assert t14.endswith(":T-14")
    assert await qbr_job.run(core) == []  # idempotent
    clock.set(datetime(2027, 1, 13, 6, 0, tzinfo=UTC))
    [t7] = await qbr_job.run(core)
    clock.set(datetime(2027, 1, 19, 6, 30, tzinfo=UTC))
    [t1] = await qbr_job.run(core)
    assert t7.endswith(":T-7") and t1.endswith(":T-1")
    keys = await outbox_keys(db)
    assert len(keys) == 6 and sum(k.endswith("@slack:C0LEADQBR") for k in keys) == 3
    async with db.session() as s:
        t7_row = (await s.execute(select(OutboxItem).where(OutboxItem.key.startswith(t7 + "@slack:C0NW")))).scalar_one()
    text = str(t7_row.payload)
    assert "QBR pack · 2026-Q4" in text and "Preparation checklist" in text


async def test_qbr_pack_counts_breaches_and_open_actions(db, make_partner):
    partner = await setup(db, make_partner)
    start = datetime(2026, 11, 2, 0, tzinfo=UTC)
    async with db.transaction() as s:
        t = Target(partner_id=partner.id, key="sl", metric="service_level", comparator=">=", target_value=80.0,
                   warning_value=None, window="week", min_volume=0, channel=None)
        s.add(t)
        await s.flush()
        for hours in (2, 3):
            s.add(BreachEpisode(target_id=t.id, partner_id=partner.id, status="recovered", opened_at=start,
                                last_violating_start=start, last_violating_end=start, created_at=start,
                                recovered_at=start + timedelta(hours=hours), worst_value=60.0, last_value=70.0))
        s.add(QbrActionItem(partner_id=partner.id, title="Reduce AHT on returns", owner="@maria",
                            due_on=date(2027, 2, 15), created_at=start))
        # two P2 SLA escalations: acknowledged after 30 min and 1h 30m, one resolved after 5h, one reached L3
        for ack, fix, level in ((30, 300, 0), (90, None, 2)):
            s.add(Escalation(partner_id=partner.id, severity="P2", category="sla", title="Queue", opened_at=start,
                             level_since=start, first_acknowledged_at=start + timedelta(minutes=ack),
                             first_resolved_at=start + timedelta(minutes=fix) if fix else None, max_level=level))
        s.add(Escalation(partner_id=partner.id, severity="P1", category="tooling", title="CRM", opened_at=start,
                         level_since=start))
    async with db.session() as s:
        view = await build_pack(s, partner=partner, quarter="2026-Q4", now=datetime(2027, 1, 13, tzinfo=UTC))
    assert view.escalations == (
        "P1 tooling: 1 opened; mean time to acknowledge n/a, to resolve n/a; highest level L1, 0 escalated past L1",
        "P2 sla: 2 opened; mean time to acknowledge 1h 00m, to resolve 5h 00m; highest level L3, 1 escalated past L1",
    )
    assert view.breaches == "2 breach(es), 5h 00m in total"
    assert view.open_actions == ("Reduce AHT on returns — @maria, due 2027-02-15",)
    md = pack_markdown(view)
    assert md.startswith("# QBR pack · Northwind BPO · 2026-Q4\n")
    assert "| Service level | n/a |" in md and "| no_data |" in md
    assert "- Breaches: 2 breach(es), 5h 00m in total" in md


async def test_qbr_action_item_reminded_two_days_before_due_once(db, core, clock, make_partner):
    partner = await setup(db, make_partner)
    async with db.transaction() as s:
        s.add(QbrActionItem(partner_id=partner.id, title="Refresh IVR", owner="@ana", due_on=date(2027, 2, 15),
                            created_at=datetime(2027, 1, 20, tzinfo=UTC)))
    clock.set(datetime(2027, 2, 12, 15, 59, tzinfo=UTC))  # Manila Feb 12 23:59
    assert not [k for k in await qbr_job.run(core) if k.startswith("qbr-action")]
    clock.set(datetime(2027, 2, 12, 16, 0, tzinfo=UTC))  # Manila Feb 13 00:00, due in two days
    assert len([k for k in await qbr_job.run(core) if k.startswith("qbr-action")]) == 1
    assert len([k for k in await outbox_keys(db) if k.startswith("qbr-action")]) == 1
    assert not [k for k in await qbr_job.run(core) if k.startswith("qbr-action")]
