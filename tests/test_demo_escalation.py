"""The demo's escalation step on the example config: filed, climbs in order, acknowledged, resolved with a note."""

from __future__ import annotations

import re

from adapters.cli.demo_escalation import NOTE, show_escalation
from adapters.console.gateway import PreviewGateway
from tests.escalation_world import make_world


async def test_demo_escalation_files_climbs_acknowledges_resolves_and_shows_the_trail(db, core):
    await make_world(db)  # the example config, as the demo applies it
    preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
    out: list[str] = []
    await show_escalation(core, preview, out.append)
    text = "\n".join(out)
    assert "Tomasz Nowak files ESC-1 with /escalate in Slack" in text
    # filed Tuesday 10:00 Warsaw of the last complete week (the clock fixture is Monday 16 Nov 2026)
    assert text.splitlines()[0].startswith("Tue 10:00")
    climbs = re.findall(r"(\w{3} \d\d:\d\d)  ESC-1 climbs to (L\d)", text)
    assert climbs == [("Tue 10:30", "L2"), ("Tue 11:30", "L3")]
    assert text.count("L1 reminded") == 2
    assert "Lena Lead presses Acknowledge in Teams" in text
    assert "Resolve with an empty note is refused" in text
    assert "State: resolved" in text
    assert NOTE in text.split("acme-tl> escalate show ESC-1", 1)[1]  # the audit trail carries the note
    # what would have been posted: the card in acme's Slack channel, the lead's DM in Teams
    assert any(dest == "C0ACMEESC" for dest, _ in preview["slack"].posted)
    assert any(dest == "user:00000000-0000-4000-8000-00000000c001" for dest, _ in preview["teams"].posted)
    assert 30 <= len(text.splitlines()) <= 80
