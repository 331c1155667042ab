"""Acknowledge / Mute buttons on breach alerts and the "Open breaches" list, with access checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.actions import ActionId
from bot.core import Core
from bot.domain.access import Actor, Role
from bot.interactions import Press, handle_action
from bot.services.breach_actions import open_breaches
from bot.services.evaluation import evaluate
from bot.settings import Settings
from bot.store.alerts import BreachEpisode
from bot.store.models import Measurement, Partner, Route, Target
from bot.store.outbox import OutboxItem

BERLIN = ZoneInfo("Europe/Berlin")
ADMIN = Actor("slack", "U0ADMIN", Role.ADMIN, name="Ada Admin")
LEAD = Actor("slack", "U0LEAD", Role.CLIENT, name="Lee Lead")


@pytest.fixture
async def breached(db, clock) -> tuple[Core, Partner, Partner]:
    """Acme in breach (episode 1, announced), Globex without data."""
    core = Core(db=db, settings=Settings(database_url=db.url), clock=clock)
    async with db.transaction() as s:
        acme = Partner(slug="acme", name="Acme", timezone="Europe/Berlin")
        globex = Partner(slug="globex", name="Globex", timezone="America/Sao_Paulo")
        s.add_all([acme, globex])
        await s.flush()
        s.add(Route(partner_id=acme.id, purpose="alerts", platform="slack", destination="C0ACMEALERT"))
        s.add(Target(partner_id=acme.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                     window="day", min_volume=10))
        start = datetime(2026, 11, 16, tzinfo=BERLIN)
        s.add(Measurement(partner_id=acme.id, channel="voice", metric="service_level", period_start=start,
                          period_end=start + timedelta(days=1), num=50, den=100, ingested_at=start))
    clock.set(datetime(2026, 11, 17, 1, tzinfo=BERLIN))
    await evaluate(core)
    return core, acme, globex


def _press(action: ActionId, actor: Actor, value: str = "breach:1") -> Press:
    return Press(action=action, value=value, actor=actor, message_ref="C0ACMEALERT:1")


async def test_acknowledge_records_who_and_when_and_updates_the_alert(breached, db, clock):
    core, acme, _ = breached
    tl = Actor("slack", "U0ACME1", Role.PARTNER, name="Tess TL", partner_id=acme.id, partner_slug="acme")
    result = await handle_action(core, _press(ActionId.BREACH_ACKNOWLEDGE, tl))
    facts = {f.label: f.value for f in result.replace.sections[0].facts}
    assert facts["Acknowledged"].startswith("by Tess TL at 2026-11-17")
    assert ActionId.BREACH_ACKNOWLEDGE not in [a.id for a in result.replace.actions]
    async with db.session() as s:
        ep = await s.get(BreachEpisode, 1)
        keys = (await s.execute(select(OutboxItem.key, OutboxItem.update_of))).all()
    assert ep.acknowledged_by == "Tess TL" and ep.acknowledged_at == clock.now()
    assert ("breach:1:ack@slack:C0ACMEALERT", "breach:1@slack:C0ACMEALERT") in keys


async def test_acknowledge_by_other_partners_user_is_refused(breached, db):
    core, _, globex = breached
    outsider = Actor("slack", "U0GLOBEX", Role.PARTNER, name="G", partner_id=globex.id, partner_slug="globex")
    result = await handle_action(core, _press(ActionId.BREACH_ACKNOWLEDGE, outsider))
    assert result.replace is None and "own partner" in result.reply.summary + result.reply.title
    async with db.session() as s:
        assert (await s.get(BreachEpisode, 1)).acknowledged_by is None


async def test_mute_by_client_manager_is_refused_and_by_admin_recorded(breached, db, clock):
    core, _, _ = breached
    refused = await handle_action(core, _press(ActionId.BREACH_MUTE, LEAD))
    assert refused.replace is None and "admins" in (refused.reply.summary or "") + refused.reply.title
    result = await handle_action(core, _press(ActionId.BREACH_MUTE, ADMIN))
    assert "Muted" in {f.label for f in result.replace.sections[0].facts}
    async with db.session() as s:
        ep = await s.get(BreachEpisode, 1)
    assert ep.muted_by == "Ada Admin" and ep.muted_until == clock.now() + timedelta(hours=24)


async def test_acknowledge_unknown_episode_says_what_to_do(breached):
    core, _, _ = breached
    result = await handle_action(core, _press(ActionId.BREACH_ACKNOWLEDGE, LEAD, value="breach:999"))
    assert result.replace is None and "/sla" in result.reply.summary


async def test_open_breaches_shows_partner_users_only_their_own(breached):
    core, acme, globex = breached
    assert "#1 Acme" in (await open_breaches(core, LEAD)).bullets[0]
    other = Actor("slack", "U0GLOBEX", Role.PARTNER, partner_id=globex.id, partner_slug="globex")
    assert (await open_breaches(core, other)).text == "No open breaches."
