"""A small two-partner world for the dashboard tests, and a real `liaison serve` process on it.

Partners Acme (Europe/Warsaw, sites Krakow and Lisbon) and Bravo (America/Sao_Paulo, site Recife)
with 14 weeks of daily service level and AHT per site and channel up to today, weekly targets,
users of every kind, and escalations: a data-protection one on Acme (filed by nobody on the
list) and an ordinary one on Bravo. Names that must never leak are unusual words, so a search
of a page body for them cannot match anything else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.db import Database
from bot.store.escalations import Escalation
from bot.store.models import Measurement, Partner, Site, Target, User

SECRET = "dashboard-test-secret-0123456789abcdef"
DP_TITLE = "Zyxwarp customer data exposure"
BRAVO_ESCALATION = "Quillfen queue outage"
PEOPLE = {  # console user id -> (role, partner slug, capabilities)
    "client": ("client", None, ()),
    "dp": ("client", None, ("data_protection",)),
    "admin": ("admin", None, ()),
    "acme-tl": ("partner", "acme", ()),
    "bravo-tl": ("partner", "bravo", ()),
}
PARTNERS = {"acme": ("Acme Krzywda", "Europe/Warsaw", ("krakow", "lisbon")),
            "bravo": ("Bravo Vendimia", "America/Sao_Paulo", ("recife",))}
CHANNELS = ("voice", "chat")
DAYS = 98


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def seed(db: Database, *, now: datetime) -> None:
    """Create the partners, sites, targets, users, measurements and escalations."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    async with db.transaction() as s:
        ids: dict[str, int] = {}
        for n, (slug, (name, tz, sites)) in enumerate(PARTNERS.items()):
            partner = Partner(slug=slug, name=name, timezone=tz)
            s.add(partner)
            await s.flush()
            ids[slug] = partner.id
            s.add(Target(partner_id=partner.id, key=f"{slug}-sl", channel="voice", metric="service_level",
                         comparator=">=", target_value=80.0, warning_value=83.0, window="week"))
            s.add(Target(partner_id=partner.id, key=f"{slug}-aht", metric="aht", comparator="<=",
                         target_value=360.0, window="week"))
            for k, key in enumerate(sites):
                site = Site(partner_id=partner.id, key=key, name=key.title())
                s.add(site)
                await s.flush()
                for day in range(DAYS, 0, -1):
                    start = today - timedelta(days=day)
                    for c, channel in enumerate(CHANNELS):
                        offered = 400 + 37 * ((day + k + c) % 7)
                        within = offered * (0.70 + 0.02 * ((day * (n + 2) + c) % 11))
                        handled = offered * 0.95
                        seconds = handled * (300 + 9 * ((day + n + k) % 13))
                        for metric, num, den in (("service_level", within, offered), ("aht", seconds, handled)):
                            s.add(Measurement(partner_id=partner.id, site_id=site.id, scope_site=site.id,
                                              channel=channel, metric=metric, period_start=start,
                                              period_end=start + timedelta(days=1), num=round(num),
                                              den=round(den), source="test", ingested_at=now))
        for uid, (role, slug, caps) in PEOPLE.items():
            s.add(User(platform="console", platform_user_id=uid, name=f"{uid} person", role=role,
                       partner_id=ids[slug] if slug else None, capabilities=list(caps)))
        for slug, title, category in (("acme", DP_TITLE, "data_protection"), ("bravo", BRAVO_ESCALATION, "outage")):
            s.add(Escalation(partner_id=ids[slug], severity="P2", category=category, title=title,
                             opened_at=now - timedelta(days=2), level_since=now - timedelta(days=2)))


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    log: Path


def serve_env(db_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIAISON_", "SLACK_", "MICROSOFT_"))}
    env.update(LIAISON_DATABASE_URL=db_url, LIAISON_DASHBOARD_SECRET=SECRET,
               LIAISON_PUBLIC_URL=f"http://127.0.0.1:{port}", LIAISON_LOG_LEVEL="WARNING")
    return env


@contextmanager
def liaison_serve(db_url: str, log_dir: Path):
    """Run `liaison serve` on a free loopback port until the block ends; yield its base URL."""
    import httpx

    port = free_port()
    log = log_dir / "serve.log"
    out = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    process = subprocess.Popen([str(Path(sys.executable).parent / "liaison"), "serve", "--port", str(port)],
                               env=serve_env(db_url, port), stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"liaison serve exited: {log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"liaison serve did not come up: {log.read_text()}")
            time.sleep(0.1)
        yield Served(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()
