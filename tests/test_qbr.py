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
    assert view.breaches == "2 breaches, 5h 00m in total"
    assert view.sla_compliance == "0 of 1 target held all period (0%); 1 breached at least once"
    assert view.open_actions == ("Reduce AHT on returns — @maria, due 2027-02-15",)
    md = pack_markdown(view)
    assert md.startswith("# QBR pack · Northwind BPO · 2026-Q4\n")
    assert "| Service level | n/a | ≥ 80.0% | no data |" in md and "no_data" not in md
    assert "Period reviewed: 1 Oct 2026 – 31 Dec 2026 (Asia/Manila)" in md
    assert "- Breaches: 2 breaches, 5h 00m in total" in md


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


async def test_qbr_pack_counts_open_breaches_only_up_to_now_and_compliance_agrees(db, make_partner):
    """On 1 December an episode open since November counts up to now, not to the quarter's end."""
    partner = await make_partner("acme", name="Acme", tz="Europe/Warsaw", sites=("krakow",))
    now = datetime(2026, 12, 1, 11, tzinfo=UTC)  # 12:00 Warsaw
    q_start = datetime(2026, 9, 30, 22, tzinfo=UTC)  # 1 Oct 00:00 Warsaw
    async with db.transaction() as s:
        held = Target(partner_id=partner.id, key="aht", metric="aht", comparator="<=", target_value=300.0,
                      window="week", channel=None)
        sl = Target(partner_id=partner.id, key="sl-voice", metric="service_level", comparator=">=",
                    target_value=85.0, window="day", channel="voice")
        s.add_all([held, sl])
        await s.flush()
        # one open since 29 Nov 00:00 Warsaw, one that began before the quarter and recovered in it,
        # one entirely before the quarter (not counted)
        opened = datetime(2026, 11, 28, 23, tzinfo=UTC)
        for o, r in ((opened, None), (q_start - timedelta(hours=5), q_start + timedelta(hours=2)),
                     (q_start - timedelta(days=3), q_start - timedelta(days=2))):
            s.add(BreachEpisode(target_id=sl.id, partner_id=partner.id, status="open" if r is None else "recovered",
                                opened_at=o, last_violating_start=o, last_violating_end=o, created_at=o,
                                recovered_at=r, worst_value=60.0, last_value=70.0))
        s.add(Escalation(partner_id=partner.id, severity="P2", category="sla_performance", title="Queue",
                         opened_at=opened, level_since=opened))
    async with db.session() as s:
        view = await build_pack(s, partner=partner, quarter="2026-Q4", now=now)
    # 29 Nov 00:00 -> 1 Dec 12:00 Warsaw = 60h, plus 2h after the quarter began; nothing after now
    assert view.breaches == "2 breaches, 62h 00m in total (1 still open, counted up to 1 Dec 12:00)"
    assert view.sla_compliance == "1 of 2 targets held all period (50%); 1 breached at least once"
    assert view.period == "2026-Q4 to date: 1 Oct 2026 – 1 Dec 2026 (Europe/Warsaw)"
    assert view.escalations[0].startswith("P2 SLA / performance: 1 opened")
    labels = [k[0] for k in view.kpis]
    assert "Service level (voice)" in labels and len(labels) == len(set(labels))
    assert all(k[3] in ("on target", "warning", "breach", "no data", "no target", "too little volume")
               for k in view.kpis)
