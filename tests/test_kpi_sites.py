"""`kpi` for one site or channel: `kpi acme sl krakow last-week`, typo suggestions from the partner's own sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.commands import dispatch
from bot.messages import Message
from bot.store.models import Measurement, Site, Target

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


@pytest.fixture
async def world(core, clock, make_partner, make_user):
    clock.set(NOW)
    acme = await make_partner("acme", name="Acme", tz="Europe/Warsaw", sites=("krakow", "gdansk"))
    globex = await make_partner("globex", name="Globex", tz="America/Sao_Paulo", sites=("saopaulo",))
    async with core.db.transaction() as s:
        site = {k: i for k, i in (await s.execute(select(Site.key, Site.id))).all()}
        s.add(Target(partner_id=acme.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                     window="week", channel="voice"))
        start = datetime(2026, 11, 10, 9, tzinfo=UTC)
        # Kraków answers 60 of 100 voice, Gdańsk 95 of 100 voice and 40 of 50 chat; Globex 90 of 100
        for pid, key, channel, num, den in ((acme.id, "krakow", "voice", 60, 100), (acme.id, "gdansk", "voice", 95, 100),
                                            (acme.id, "gdansk", "chat", 40, 50), (globex.id, "saopaulo", "voice", 90, 100)):
            s.add(Measurement(partner_id=pid, site_id=site[key], scope_site=site[key], channel=channel,
                              metric="service_level", period_start=start, period_end=start + timedelta(minutes=15),
                              num=num, den=den, ingested_at=start))
    return {"acme": acme, "client": await make_user("lead", role="client"),
            "globex_user": await make_user("globex-tl", role="partner", partner=globex),
            "acme_user": await make_user("acme-tl", role="partner", partner=acme)}


async def ask(core, actor, text: str) -> Message:  # noqa: ANN001
    reply = await dispatch(core, text=text, actor=actor, platform="console")
    assert isinstance(reply, Message)
    return reply


def values(section) -> list[str]:  # noqa: ANN001
    return [f"{row.label}={row.value}" for row in section.kpis]


async def test_kpi_for_one_site_and_one_channel(core, world):
    reply = await ask(core, world["client"], "kpi acme sl krakow last-week")
    assert reply.title == "Acme — KPIs 2026-W46 · Krakow"
    assert [v for s in reply.sections for v in values(s)] == ["Service level (voice)=60.0%"]
    chat = await ask(core, world["client"], "kpi acme sl gdansk chat last-week")
    assert chat.title == "Acme — KPIs 2026-W46 · Gdansk · chat"
    assert [v for s in chat.sections for v in values(s)] == ["Service level (chat)=80.0%"]


async def test_kpi_for_a_partner_with_several_sites_adds_a_row_per_site(core, world):
    reply = await ask(core, world["client"], "kpi acme sl last-week")
    assert [(s.heading, values(s)) for s in reply.sections] == [
        (None, ["Service level (voice)=77.5%"]),
        ("Gdansk (this site only)", ["Service level (voice)=95.0%"]),
        ("Krakow (this site only)", ["Service level (voice)=60.0%"]),
    ]
    # a partner user asking without naming the partner gets the same rows
    own = await ask(core, world["acme_user"], "kpi sl krakow last-week")
    assert [v for s in own.sections for v in values(s)] == ["Service level (voice)=60.0%"]


async def test_kpi_site_typo_suggests_only_the_partners_own_sites(core, world):
    reply = await ask(core, world["client"], "kpi acme sl krakw last-week")
    assert reply.title == "I didn't understand that"
    assert "krakow" in [b for s in reply.sections for b in s.bullets]
    # Globex's user typing near Acme's site hears nothing of it, and Acme's site is no word for Globex
    other = await ask(core, world["globex_user"], "kpi sl krakw last-week")
    assert other.title == "I didn't understand that" and "krakow" not in str(other)
    assert (await ask(core, world["client"], "kpi globex sl krakow")).title == "I didn't understand that"
