"""`qbr` commands: schedule in partner time, action items with access checks, Done button, pack summary."""

from __future__ import annotations

from sqlalchemy import select

from bot.actions import ActionId
from bot.commands import dispatch
from bot.interactions import Press, handle_action
from bot.store.qbr import Qbr, QbrActionItem


async def test_qbr_schedule_list_action_done_pack(db, core, make_partner, make_user):
    acme = await make_partner("acme", name="Acme", tz="Europe/Warsaw")
    globex = await make_partner("globex", name="Globex", tz="America/Sao_Paulo", sites=("saopaulo",))
    admin = await make_user("admin", role="admin")
    tl = await make_user("acme-tl", role="partner", partner=acme)
    other = await make_user("globex-tl", role="partner", partner=globex)

    reply = await dispatch(core, text="qbr schedule acme 2027-01-20 14:00", actor=admin, platform="console")
    assert reply.title == "QBR with Acme scheduled"
    async with db.session() as s:
        [row] = (await s.execute(select(Qbr))).scalars().all()
    assert row.scheduled_at.isoformat() == "2027-01-20T13:00:00+00:00"  # 14:00 Warsaw (CET)
    denied = await dispatch(core, text="qbr schedule acme 2027-02-20 14:00", actor=tl, platform="console")
    assert denied.title != "QBR with Acme scheduled" and "admin" in (denied.summary or denied.title).lower()

    listing = await dispatch(core, text="qbr", actor=tl, platform="console")
    assert listing.sections[0].facts[0].value.startswith("Wed 20 Jan 2027 14:00 (Europe/Warsaw)")
    assert (await dispatch(core, text="qbr", actor=other, platform="console")).title == "No upcoming QBRs"

    added = await dispatch(core, text='qbr action acme "Reduce AHT on returns" @maria 2027-02-15',
                           actor=tl, platform="console")
    assert added.summary == "Reduce AHT on returns — @maria, due 2027-02-15"
    refused = await dispatch(core, text='qbr action acme "Sneaky" @x 2027-02-15', actor=other, platform="console")
    assert refused.title != "Action item added for Acme" and "that you can see" in (refused.summary or refused.title)
    bad = await dispatch(core, text='qbr action acme "Late" @x 15/02', actor=tl, platform="console")
    assert bad.summary == "'15/02' is not a date; write it like 2027-01-20."

    actions = await dispatch(core, text="qbr actions acme", actor=tl, platform="console")
    assert actions.title == "Open QBR action items · Acme"
    button = actions.actions[0]
    assert button.id is ActionId.QBR_ACTION_DONE
    result = await handle_action(core, Press(ActionId.QBR_ACTION_DONE, button.value, tl))
    assert result.replace.title == "No open QBR action items for Acme"
    async with db.session() as s:
        assert (await s.execute(select(QbrActionItem.status))).scalar_one() == "done"

    pack = await dispatch(core, text="qbr pack acme 2026-Q4", actor=admin, platform="console")
    assert pack.title == "QBR pack · Acme · 2026-Q4"
    assert "liaison qbr pack --partner acme --quarter 2026-Q4" in pack.context
    headings = [section.heading for section in pack.sections]
    # each feature's part under its own heading, between escalations and the action items
    assert headings[:3] == ["KPIs vs targets", "SLA", "Escalations"] and headings[-1] == "Open action items"
    assert {"Partner feedback pulse", "Reverse reports"} <= set(headings[3:-1]) <= {
        "Partner feedback pulse", "Reverse reports", "Changes rolled out", "Forecast and staffing"}
    assert pack.sections[-1].bullets == ("None open.",)  # the one action item was marked done above
    assert (await dispatch(core, text="qbr pack acme 2026-Q4", actor=other, platform="console")).title != pack.title
