"""The Home page: what each role sees, and a broken section that does not blank the rest."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from bot.domain.access import Actor
from bot.services.home import HOME_SECTIONS, home_message
from bot.store.escalations import Escalation


async def _escalation(db, partner, title, clock, *, category="quality"):  # noqa: ANN001
    async with db.transaction() as s:
        s.add(Escalation(partner_id=partner.id, severity="P2", category=category, title=title,
                         opened_at=clock.now(), level_since=clock.now()))


async def test_home_partner_sees_only_own_partner_client_sees_all(core, db, clock, make_partner, make_user):
    acme = await make_partner("acme", name="Acme CX")
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo")
    await _escalation(db, acme, "Acme queue overflow", clock)
    await _escalation(db, globex, "Globex tooling down", clock)
    await _escalation(db, globex, "Globex customer data leak", clock, category="data_protection")
    partner_user = await make_user("U0ACME", role="partner", partner=acme)
    client = await make_user("U0LEAD", role="client")
    privacy = await make_user("U0DPO", role="client", capabilities=("data_protection",))

    mine = await home_message(core, partner_user)
    text = repr(mine)
    assert "partner view: " in mine.summary and "Acme queue overflow" in text
    assert "Globex" not in text

    theirs = repr(await home_message(core, client))
    assert "Acme queue overflow" in theirs and "Globex tooling down" in theirs
    assert "customer data leak" not in theirs  # the data-protection category needs the capability
    assert "Globex customer data leak" in repr(await home_message(core, privacy))


async def test_home_unknown_user_is_told_how_to_get_access(core):
    message = await home_message(core, Actor(platform="slack", platform_user_id="U0NOBODY"))
    assert message.title == "Welcome to Liaison" and "admin" in message.summary
    assert "Open escalations" not in repr(message)


@pytest.fixture
def broken_section():
    async def broken(session, actor, now):  # noqa: ANN001
        await session.execute(text("SELECT * FROM no_such_table"))  # fails, and aborts a PostgreSQL transaction

    HOME_SECTIONS.insert(0, broken)
    yield broken
    HOME_SECTIONS.remove(broken)


async def test_home_section_that_fails_is_replaced_by_a_note_and_the_rest_still_shows(
        core, db, clock, make_partner, make_user, broken_section, caplog):
    acme = await make_partner("acme", name="Acme CX")
    await _escalation(db, acme, "Acme queue overflow", clock)
    client = await make_user("U0LEAD", role="client")
    with caplog.at_level(logging.ERROR, logger="bot.services.home"):
        message = await home_message(core, client)
    [note] = [s for s in message.sections if s.heading == "Unavailable"]
    reference = note.text.split("reference ")[1].split(")")[0]
    assert len(reference) == 8 and reference in caplog.text and "no_such_table" in caplog.text
    assert "Acme queue overflow" in repr(message)  # later sections still read the database
