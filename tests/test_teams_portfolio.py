"""Teams at portfolio size: the 30-partner digest, `kpi all`, `sla` and admin Home keep every section.

Each message is delivered through the real Teams gateway to the fake Bot Connector, which
counts the request body's bytes as they arrive: every one must be under Teams' 28 KB. Every
section heading of the neutral message must be on the card, and a section that could not
show all its rows must say how many it left out (the count checked against the message).
The cards are goldens (LIAISON_UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from adapters.teams.adaptive_card import MAX_BYTES, TEAMS_LIMIT, render_card, size
from adapters.teams.gateway import gateway_from_core
from bot.commands import dispatch
from bot.core import Core
from bot.messages import Message
from bot.services.digest import build_portfolio_digest
from bot.services.home import home_message
from bot.services.identity import resolve_actor
from bot.settings import Settings
from tests.fakes.bot_connector import FakeBotConnector, known_channel
from tests.fakes.portfolio_world import NOW, build_world

GOLDEN = Path(__file__).parent / "golden" / "teams"
CONVERSATION = "19:portfolio@thread.tacv2"
SIZES: dict[str, int] = {}  # name -> bytes on the wire, for the report at the end


def golden(name: str, card: dict) -> None:
    path = GOLDEN / f"{name}.json"
    got = json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    got = re.sub(r"https?://[^\"]*", "URL", got)  # the Home sign-in link carries a signed token
    if os.environ.get("LIAISON_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with LIAISON_UPDATE_GOLDEN=1 if intended"


def rows_of(section) -> int:  # noqa: ANN001
    return len(section.facts) + len(section.kpis) + len(section.bullets)


def check_every_section(message: Message, card: dict) -> None:
    """Every heading is on the card; every row is either shown or counted in its section's note."""
    body = card["body"]
    texts = [b.get("text", "") for b in body]
    headings = [s.heading for s in message.sections if s.heading]
    assert [t for t in texts if t in {h.replace("_", "\\_") for h in headings}] == [
        h.replace("_", "\\_") for h in headings]
    starts = [i for i, b in enumerate(body) if b.get("size") == "Medium"]  # section headings
    for n, section in enumerate(message.sections):
        if not section.heading:
            continue
        begin = starts[[s.heading for s in message.sections if s.heading].index(section.heading)]
        end = next((i for i in starts if i > begin), len(body))
        block = body[begin + 1:end]
        shown = sum(len(b.get("facts", [])) for b in block) + sum(b["type"] == "ColumnSet" for b in block) + sum(
            b.get("text", "").startswith("• ") for b in block)
        notes = [int(b["text"].split()[1]) for b in block if b.get("text", "").startswith("...and ")
                 and "not shown (Teams size limit" in b["text"]]
        assert shown + sum(notes) == rows_of(section), (n, section.heading, shown, notes)


@pytest.fixture
async def world(db, clock):  # noqa: ANN001
    clock.set(NOW)
    return await build_world(db)


async def test_teams_portfolio_messages_keep_every_section_under_the_limit_as_sent(db, clock, world):
    core = Core(db=db, settings=Settings(_env_file=None, database_url=db.url), clock=clock)
    admin = await resolve_actor(core, platform="console", platform_user_id="admin")
    async with db.session() as s:
        _week, digest = await build_portfolio_digest(s, partners=world.partners, now=NOW)
    messages = {
        "portfolio_digest_30": digest,
        "portfolio_kpi_all_30": await dispatch(core, text="kpi all", actor=admin, platform="console"),
        "portfolio_sla_30": await dispatch(core, text="sla", actor=admin, platform="console"),
        "portfolio_home_admin_30": await home_message(core, admin),
    }
    connector = FakeBotConnector()
    await connector.start()
    try:
        await known_channel(core, connector.base_url, key=CONVERSATION, name="portfolio", tenant_id=None)
        gateway = gateway_from_core(core)
        for name, message in messages.items():
            assert isinstance(message, Message), name
            card = render_card(message)
            assert size(card) <= MAX_BYTES, (name, size(card))
            check_every_section(message, card)
            golden(name, card)
            await gateway.post(CONVERSATION, message)
            call = connector.calls[-1]
            [sent] = [a["content"] for a in call.activity["attachments"]]
            assert sent == card  # what arrived is what was measured
            assert call.body_bytes <= TEAMS_LIMIT, (name, call.body_bytes)
            SIZES[name] = call.body_bytes
    finally:
        await connector.stop()
    # the digest's ranking and what changed, Home's lists: present, not dropped
    digest_text = json.dumps(render_card(messages["portfolio_digest_30"]))
    assert "Balanced scorecard" in digest_text and "What changed" in digest_text
    home_text = json.dumps(render_card(messages["portfolio_home_admin_30"]))
    assert "Open breaches (" in home_text and "Open escalations (" in home_text
    print("Teams bytes on the wire:", SIZES)  # noqa: T201 - read by `pytest -s` for the report
