"""A 30-partner portfolio with several sites each, for checking every figure people read.

Deterministic (seeded) raw rows: voice KPIs (service level, AHT, FCR, CSAT, NPS, CES) twice a
day at local 00:30 and 12:00, and the email backlog as snapshots whose newest one differs by
site (one site stops reporting two days before the week ends). Partners live in zones whose
DST changes fall inside the compared weeks (Europe 25 Oct, America 1 Nov 2026). Targets are
weekly, site-less, on voice; some partners also have a site target. Breach episodes: closed
inside the digest week, opened in it and still open, open since before the quarter, and one
entirely before the quarter. Escalations with acknowledgement times. ``NOW`` is Wednesday
4 November 2026, so "last week" is 26 Oct - 1 Nov and 2026-Q4 is in progress.

The rows are kept in :class:`World` as plain tuples so tests can recompute every figure with
their own arithmetic, never through the production query code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.measurement_days import refresh_days
from bot.store.measurements import insert_raw
from bot.store.models import Measurement, Partner, Site, Target, User

NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)
FIRST_DAY = date(2026, 9, 20)
LAST_DAY = date(2026, 11, 3)
ZONES = ("Europe/Warsaw", "America/New_York", "Asia/Manila", "America/Sao_Paulo", "Europe/London",
         "America/Los_Angeles")
SITE_NAMES = ("Kraków", "Gdańsk", "Łódź")
# metric -> (comparator, weekly target) on voice, site-less
TARGETS = {"service_level": (">=", 80.0), "aht": ("<=", 300.0), "csat": (">=", 85.0), "fcr": (">=", 70.0),
           "nps": (">=", 20.0), "ces": ("<=", 3.0)}


@dataclass(frozen=True, slots=True)
class Row:
    partner_id: int
    site_id: int
    channel: str
    metric: str
    start: datetime  # UTC
    num: float
    den: float
    aux: float | None


@dataclass
class World:
    partners: list[Partner] = field(default_factory=list)
    sites: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # partner id -> (site id, name)
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    episodes: list[BreachEpisode] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)


def _name(i: int) -> str:
    words = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne")
    suffix = ("Contact Solutions", "CX", "BPO")[i % 3]
    return f"{words[i % 10]} {suffix} {i // 10 + 1}"


async def build_world(db, *, partners: int = 30, seed: int = 12) -> World:  # noqa: ANN001
    """Create the partners, sites, targets, rows, episodes and escalations; return what was written."""
    rng = random.Random(seed)
    world = World()
    async with db.transaction() as s:
        s.add(User(platform="console", platform_user_id="admin", name="Ada Admin", role="admin"))
        for i in range(partners):
            p = Partner(slug=f"p{i:02d}", name=_name(i), timezone=ZONES[i % len(ZONES)])
            s.add(p)
            await s.flush()
            world.partners.append(p)
            world.sites[p.id] = []
            for k in range(2 + i % 2):
                site = Site(partner_id=p.id, key=f"s{k}", name=SITE_NAMES[k])
                s.add(site)
                await s.flush()
                world.sites[p.id].append((site.id, site.name))
            for metric, (comparator, value) in TARGETS.items():
                world.targets.append(Target(partner_id=p.id, key=f"{metric}-voice", metric=metric, channel="voice",
                                            comparator=comparator, target_value=value, window="week"))
            if i % 4 == 0:  # a site target too: named by its site in breach lines
                world.targets.append(Target(partner_id=p.id, key="sl-site0", metric="service_level",
                                            channel="voice", site_id=world.sites[p.id][0][0], comparator=">=",
                                            target_value=85.0, window="week"))
        s.add_all(world.targets)
        await s.flush()
    for p in world.partners:
        zone = ZoneInfo(p.timezone)
        quality = rng.uniform(0.7, 1.05)
        day = FIRST_DAY
        while day <= LAST_DAY:
            for hour, minute in ((0, 30), (12, 0)):
                start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                for site_id, _site_name in world.sites[p.id]:
                    offered = rng.randint(50, 400)
                    handled = offered - rng.randint(0, offered // 10)
                    responses = rng.randint(5, 40)
                    promoters = rng.randint(0, responses)
                    detractors = rng.randint(0, responses - promoters)
                    within = min(offered, round(offered * min(1.0, quality * rng.uniform(0.75, 1.0))))
                    world.rows += [
                        Row(p.id, site_id, "voice", "service_level", start, within, offered, None),
                        Row(p.id, site_id, "voice", "aht", start, handled * rng.uniform(200, 380), handled, None),
                        Row(p.id, site_id, "voice", "fcr", start, round(handled * rng.uniform(0.6, 0.9)), handled,
                            None),
                        Row(p.id, site_id, "voice", "csat", start, round(responses * rng.uniform(0.7, 0.98)),
                            responses, None),
                        Row(p.id, site_id, "voice", "nps", start, promoters, responses, detractors),
                        Row(p.id, site_id, "voice", "ces", start, responses * rng.uniform(1.5, 4.0), responses, None),
                    ]
                    # the last site stops reporting its backlog two days before the data ends
                    if not (site_id == world.sites[p.id][-1][0] and day > LAST_DAY - timedelta(days=4)):
                        world.rows.append(Row(p.id, site_id, "email", "backlog", start, rng.randint(10, 200), 1,
                                              None))
            day += timedelta(days=1)
    async with db.transaction() as s:
        batch = [{"partner_id": r.partner_id, "site_id": r.site_id, "scope_site": r.site_id, "channel": r.channel,
                  "metric": r.metric, "period_start": r.start, "period_end": r.start + timedelta(minutes=30),
                  "num": float(r.num), "den": float(r.den), "aux": None if r.aux is None else float(r.aux),
                  "source": "world", "ingested_at": NOW} for r in world.rows]
        for i in range(0, len(batch), 5000):
            await insert_raw(s, Measurement.__table__, batch[i:i + 5000])
        starts: dict[int, set[datetime]] = {}
        for r in world.rows:
            starts.setdefault(r.partner_id, set()).add(r.start)
        await refresh_days(s, starts)
    await _episodes_and_escalations(db, world, rng)
    return world


async def _episodes_and_escalations(db, world: World, rng: random.Random) -> None:  # noqa: ANN001
    by_partner: dict[int, list[Target]] = {}
    for t in world.targets:
        by_partner.setdefault(t.partner_id, []).append(t)
    q_start = datetime(2026, 10, 1, tzinfo=UTC)
    async with db.transaction() as s:
        for i, p in enumerate(world.partners):
            zone = ZoneInfo(p.timezone)
            monday = datetime(2026, 10, 26, tzinfo=zone)  # the digest week, local
            mine = by_partner[p.id]
            plans = []
            if i % 2 == 0:  # closed inside the week: Tue 09:00 to Thu 15:00 local
                plans.append((mine[0], monday + timedelta(days=1, hours=9), monday + timedelta(days=3, hours=15)))
            if i % 3 == 0:  # opened in the week, still open now
                plans.append((mine[-1], monday + timedelta(days=5, hours=8), None))
            if i % 5 == 0:  # open since before the quarter
                plans.append((mine[1], q_start - timedelta(days=2, hours=rng.randint(0, 20)), None))
            if i % 7 == 0:  # recovered before the quarter began: counts nowhere
                plans.append((mine[2], q_start - timedelta(days=9), q_start - timedelta(days=8)))
            if i % 6 == 1:  # began before the quarter, recovered in it
                plans.append((mine[3], q_start - timedelta(hours=30), q_start + timedelta(hours=rng.randint(5, 50))))
            for target, opened, recovered in plans:
                opened = opened.astimezone(UTC)
                recovered = recovered.astimezone(UTC) if recovered else None
                e = BreachEpisode(target_id=target.id, partner_id=p.id, status="recovered" if recovered else "open",
                                  opened_at=opened, last_violating_start=opened, last_violating_end=opened,
                                  recovered_at=recovered, windows_breached=rng.randint(1, 4), worst_value=1.0,
                                  last_value=1.0, created_at=opened)
                s.add(e)
                world.episodes.append(e)
            for k in range(i % 4):
                opened = (monday + timedelta(days=k, hours=10)).astimezone(UTC)
                esc = Escalation(partner_id=p.id, severity=f"P{2 + k % 3}", category="sla_performance",
                                 title=f"Queue issue {k}", opened_at=opened, level_since=opened,
                                 status="open" if k % 2 == 0 else "acknowledged",
                                 first_acknowledged_at=opened + timedelta(minutes=20 + 15 * k) if k % 2 else None)
                s.add(esc)
                world.escalations.append(esc)
        await s.flush()
