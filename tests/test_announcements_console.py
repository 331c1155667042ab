"""Announcements in the console: the lead fills the form with `submit`, a site lead acknowledges from
`announce show`, and the typed list reflects it."""

from __future__ import annotations

from adapters.console.shell import ConsoleSession, run_lines
from tests.fakes.announcement_world import make_announcement_world


async def test_console_announce_submit_show_press_and_list(core, db):
    await make_announcement_world(db)
    out: list[str] = []
    console = ConsoleSession(core=core, user="lead", write=out.append)
    await run_lines(console, [
        "announce",
        'submit title="New refund screen" body="Refunds move to Cases > Refund." category=crm_change '
        "effective_date=2026-11-23 audience=partners partners=acme,initech requires_ack=yes ack_date=2026-11-20",
        "as acme-am",
        "announce show AN-1",
        "press 2",  # Acknowledge: Lisbon
        "announce show AN-1",
        "press 1",  # Acknowledge: Kraków: Lisbon's lead may not
        "as lead",
        "announce list",
    ])
    text = "\n".join(out)
    assert "[FORM] Announce a change" in text
    assert "AN-1 sent to 4 sites of 2 partners" in text
    assert "Buttons: [1 Acknowledge: Kraków]  [2 Acknowledge: Lisbon]  [3 Have a question]" in text
    assert "AN-1 acknowledged for Lisbon" in text
    assert "1 of 2 sites acknowledged" in text  # the shown card, replaced after the press
    assert "Only Kraków's team (or your partner's leads) can act for Kraków." in text
    assert "AN-1 New refund screen · CRM/tooling change · sent 2026-11-16 · 1 of 4 sites acknowledged" in text
