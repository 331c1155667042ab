"""A staffing world: two partners with sites, service-level targets, alert routes and users; forecast rows.

``make_staffing_world(db)`` returns the ids; ``rows_for_day`` writes staffing rows (as the CSV/JSON
format's dicts) for one local day at a steady load, with a chosen number of agents scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.access import Actor, Role
from bot.store.db import Database
from bot.store.models import Partner, Route, Site, Target, User

ACME_TZ = "Europe/Warsaw"


@dataclass
class World:
    acme: Partner
    globex: Partner
    krakow: int
    lisbon: int
    lead: Actor
    acme_tl: Actor
    globex_tl: Actor


async def make_staffing_world(db: Database) -> World:
    """Acme (Warsaw; Kraków and Lisbon; voice 80% daily, chat 85%) and Globex (São Paulo; voice 80%)."""
    async with db.transaction() as s:
        acme = Partner(slug="acme", name="Acme Contact Solutions", timezone=ACME_TZ)
        globex = Partner(slug="globex", name="Globex CX", timezone="America/Sao_Paulo")
        s.add_all([acme, globex])
        await s.flush()
        krakow = Site(partner_id=acme.id, key="krakow", name="Kraków", country="PL")
        lisbon = Site(partner_id=acme.id, key="lisbon", name="Lisbon", country="PT")
        saopaulo = Site(partner_id=globex.id, key="saopaulo", name="São Paulo", country="BR")
        s.add_all([krakow, lisbon, saopaulo])
        await s.flush()
        s.add_all([
            Target(partner_id=acme.id, key="sl-voice-day", metric="service_level", comparator=">=", target_value=80,
                   window="day", channel="voice", min_volume=50),
            Target(partner_id=acme.id, key="sl-chat-day", metric="service_level", comparator=">=", target_value=85,
                   window="day", channel="chat", min_volume=30),
            Target(partner_id=globex.id, key="sl-voice-day", metric="service_level", comparator=">=", target_value=80,
                   window="day", channel="voice", min_volume=50),
            Route(partner_id=acme.id, purpose="alerts", platform="slack", destination="C0ACMEALERT"),
            Route(partner_id=acme.id, purpose="alerts", platform="teams", destination="acme-alerts"),
            Route(partner_id=globex.id, purpose="alerts", platform="slack", destination="C0GLXALERT"),
        ])
        users = [("U0LEAD", "client", None), ("U0ACME1", "partner", acme.id), ("U0GLOBEX1", "partner", globex.id)]
        ids = []
        for uid, role, pid in users:
            u = User(platform="slack", platform_user_id=uid, name=uid, role=role, partner_id=pid)
            s.add(u)
            await s.flush()
            ids.append(u.id)
    lead = Actor(platform="slack", platform_user_id="U0LEAD", role=Role.CLIENT, user_id=ids[0], name="Lena Lead")
    acme_tl = Actor(platform="slack", platform_user_id="U0ACME1", role=Role.PARTNER, user_id=ids[1], name="Tomasz",
                    partner_id=acme.id, partner_slug="acme")
    globex_tl = Actor(platform="slack", platform_user_id="U0GLOBEX1", role=Role.PARTNER, user_id=ids[2],
                      name="Paulo", partner_id=globex.id, partner_slug="globex")
    return World(acme, globex, krakow.id, lisbon.id, lead, acme_tl, globex_tl)


def rows_for_day(day: date, *, partner: str = "acme", site: str = "krakow", channel: str = "voice",
                 tz: str = ACME_TZ, contacts: float = 100.0, aht: float = 180.0, agents: int | None = 20,
                 hours: tuple[int, int] = (8, 18), agents_at: dict[int, int] | None = None,
                 forecast: bool = True) -> list[dict]:
    """Rows for every quarter hour of the local day (92 or 100 across DST); load only inside ``hours``.

    ``agents_at`` overrides the scheduled agents for given local hours.
    """
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(ZoneInfo("UTC"))
    out = []
    moment = start
    while moment < end:
        local = moment.astimezone(zone)
        busy = hours[0] <= local.hour < hours[1]
        row: dict = {"partner": partner, "site": site, "channel": channel,
                     "interval_start": local.isoformat(), "interval_minutes": 15}
        if forecast:
            row["forecast_contacts"] = contacts if busy else 0
            row["forecast_aht_seconds"] = aht
        if agents is not None:
            n = (agents_at or {}).get(local.hour, agents if busy else 0)
            row["scheduled_agents"] = n
        out.append(row)
        moment += timedelta(minutes=15)
    return out


def to_csv(rows: list[dict]) -> str:
    """Write rows as the staffing CSV (header from the union of keys, in the format's order)."""
    from bot.ingest.staffing import COLUMNS

    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    lines = [",".join(cols)]
    for r in rows:
        lines.append(",".join("" if r.get(c) is None else str(r[c]) for c in cols))
    return "\n".join(lines) + "\n"
