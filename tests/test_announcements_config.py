"""The announcements route and site leads in liaison.yaml: parsed, checked, applied with their fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bot.config.loader import ConfigError, load_config, parse_config
from bot.services.announcements import route_purpose
from bot.store.models import Route
from tests.fakes.announcement_world import make_announcement_world

EXAMPLE = Path(__file__).resolve().parents[1] / "liaison.example.yaml"


def issues_of(mutate) -> dict[str, str]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), source="bad.yaml")
    return {i.path: i.message for i in info.value.issues}


def test_example_routes_announcements_for_acme_and_the_client_only():
    config = load_config(EXAMPLE)
    partners = {p.slug: p for p in config.partners}
    assert partners["acme"].routes.announcements.pairs() == [("slack", "C0ACMEANNOUNCE"),
                                                             ("teams", "acme-announcements")]
    assert partners["globex"].routes.announcements.pairs() == []  # falls back to its reports route
    assert config.client.routes.announcements.pairs() == [("slack", "C0CXANNOUNCE"), ("teams", "cx-announcements")]
    acme_am = next(u for u in config.users if u.id == "acme-am")
    assert acme_am.capabilities == ["site:lisbon"]


def test_site_capabilities_must_name_a_site_of_the_users_partner():
    def mutate(d):
        users = {u["id"]: u for u in d["users"]}
        users["acme-am"]["capabilities"] = ["site:paris"]
        users["lead"]["capabilities"] = ["data_protection", "site:krakow"]

    issues = issues_of(mutate)
    assert issues == {"users[4].capabilities[0]": "partner 'acme' has no site 'paris' (sites: krakow, lisbon)",
                      "users[1].capabilities[1]": "only partner users are tied to a site"}


async def test_route_fallback_announcements_then_reports_then_alerts(db):
    world = await make_announcement_world(db)
    async with db.session() as s:
        assert await route_purpose(s, world.partners["acme"].id) == "announcements"
        assert await route_purpose(s, world.partners["globex"].id) == "reports"
        assert await route_purpose(s, None) == "announcements"
        purposes = {r.purpose for r in (await s.exec(select(Route).where(Route.partner_id.is_(None)))).all()}
    assert "announcements" in purposes
    async with db.transaction() as s:
        for row in (await s.exec(select(Route).where(Route.partner_id == world.partners["initech"].id,
                                                      Route.purpose == "reports"))).all():
            await s.delete(row)
    async with db.session() as s:
        assert await route_purpose(s, world.partners["initech"].id) == "alerts"
