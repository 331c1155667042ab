"""The demo's announcement step on the example config: rolled out, cards updated in place, Lisbon reminded."""

from __future__ import annotations

from adapters.cli.demo_announcements import show_announcement
from adapters.console.gateway import PreviewGateway
from tests.escalation_world import make_world


async def test_demo_announcement_rolled_out_acknowledged_reminded_and_counted(db, core):
    await make_world(db)
    preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
    out: list[str] = []
    await show_announcement(core, preview, out.append)
    text = "\n".join(out)
    # the clock fixture is Monday 16 Nov 2026: the last complete week's Monday 09:30 in Berlin
    assert text.splitlines()[0].startswith("Mon 09:30 (Berlin)  Lena Lead announces AN-1 with /announce: "
                                           "AN-1 sent to 3 sites of 2 partners")
    assert "Acme's card in Slack #C0ACMEANNOUNCE" in text and "Acknowledge: Lisbon" in text
    assert "Tomasz Nowak presses Acknowledge: AN-1 acknowledged for Kraków" in text
    assert "the card in #C0ACMEANNOUNCE is updated in place: 1 of 2 sites acknowledged" in text
    assert "the card in #C0CXANNOUNCE is updated in place: 1 of 3 sites acknowledged" in text
    assert "the card in #C0GLXREPORT is updated in place: 1 of 1 site acknowledged" in text
    assert "the card in #C0CXANNOUNCE is updated in place: 2 of 3 sites acknowledged" in text
    # sent Mon 09:30, due Thu 17:00: half-way is Wed 01:15, outside Warsaw's hours (08-18): Wed 08:00
    assert "Wed 08:00 (Warsaw)  in the card's thread: Reminder: AN-1 is not acknowledged by Lisbon" in text
    assert "Thu 17:00 (Warsaw)  in the card's thread: Reminder: AN-1 is not acknowledged by Lisbon" in text
    assert ("Lena Lead gets a Slack DM: AN-1: 1 of 3 sites did not acknowledge by the deadline: "
            "Acme Contact Solutions / Lisbon") in text
    assert "2 reminders in all" in text
    assert ("Digest line: Announcements: 1 change rolled out, 66% of sites acknowledged on time (2 of 3), mean time "
            "to acknowledge 3h 40m; missed: Acme Contact Solutions / Lisbon (AN-1)") in text
