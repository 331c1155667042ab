"""The example config plus a Bogotá partner, applied to a test database: a world for announcement tests.

Partners and their business hours (the reminders' clock): acme Europe/Warsaw Mon-Fri 08-18
(Kraków, Lisbon), northwind Asia/Manila Mon-Sat 07-22 (Manila), globex America/Sao_Paulo
Mon-Fri 09-17 by default (São Paulo), initech America/Bogota Mon-Fri 08-17 (Medellín, Cali;
chat and email only, so a "voice" audience leaves it out). Users: acme-tl (acme's lead, every
acme site), acme-am (Lisbon's site lead: capability site:lisbon), initech-tl, and the example's.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlmodel import select

from bot.config.loader import parse_config
from bot.services.config_apply import apply_config
from bot.store.db import Database
from bot.store.models import Partner, User
from tests.escalation_world import World

EXAMPLE = Path(__file__).resolve().parents[2] / "liaison.example.yaml"

INITECH = {
    "slug": "initech", "name": "Initech Colombia", "timezone": "America/Bogota", "locale": "es",
    "sites": [{"key": "medellin", "name": "Medellín", "country": "CO", "languages": ["es"]},
              {"key": "cali", "name": "Cali", "country": "CO", "languages": ["es", "en"]}],
    "channels": ["chat", "email"],
    "routes": {"reports": {"slack": ["C0INITREPORT"], "teams": ["initech-reports"]},
               "alerts": {"slack": ["C0INITALERT"]}},
    "escalation": {"levels": [{"name": "Team lead", "users": ["initech-tl"],
                               "wait": {"P1": "15m", "P2": "30m", "P3": "4h", "P4": "1d"}}],
                   "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}},
}
INITECH_TL = {"id": "initech-tl", "name": "Camila Rojas", "role": "partner", "partner": "initech",
              "identities": {"slack": "U0INIT1", "teams": "00000000-0000-4000-8000-00000000e001",
                             "console": "initech-tl"}}


def world_config(*, bogota: bool = True):  # noqa: ANN201 - LiaisonConfig
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if bogota:
        data["partners"].append(INITECH)
        data["users"].append(INITECH_TL)
    return parse_config(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


async def make_announcement_world(db: Database, *, bogota: bool = True) -> World:
    """Apply the example config (plus initech in Bogotá) and return its partners and users."""
    await apply_config(db, world_config(bogota=bogota))
    async with db.session() as session:
        partners = {p.slug: p for p in (await session.exec(select(Partner))).all()}
        users = list((await session.exec(select(User))).all())
    return World(partners, users)
