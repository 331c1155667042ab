"""The demo's reverse report step on the example config: sent, acknowledged in place, the other one reminded."""

from __future__ import annotations

from adapters.cli.demo_reports import show_reverse_report
from adapters.console.gateway import PreviewGateway
from tests.escalation_world import make_world


async def test_demo_reverse_report_sent_acknowledged_and_reminded(db, core):
    await make_world(db)
    preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
    out: list[str] = []
    await show_reverse_report(core, preview, out.append)
    text = "\n".join(out)
    assert "Posted to Acme Contact Solutions' reports channel" in text
    # the clock fixture is Monday 16 Nov 2026: last complete week's Tuesday 10:00 in Warsaw
    assert text.splitlines()[0].startswith("Tue 10:00  Lena Lead sends RR-1 to Acme Contact Solutions")
    assert "The card in Slack #C0ACMEREPORT" in text and "Acknowledge" in text
    assert "Tue 13:10  Tomasz Nowak presses Acknowledge: RR-1 acknowledged" in text
    assert "Lena Lead gets a Slack DM: RR-1 acknowledged by Acme Contact Solutions" in text
    assert "updated in place: Acknowledged by Tomasz Nowak after 3h 10m." in text
    # sent Wednesday 15:00, two Warsaw business days later: Friday 15:00
    assert "Fri 15:00  reminder in acme's reports thread: Reminder: RR-2 is not acknowledged yet" in text
    assert "1 reminder in all" in text
    updates = [dest for dest, _ in preview["slack"].posted if dest.startswith("slack:C0ACMEREPORT:")]
    assert len(updates) == 1  # the card, edited through its first post's ref
