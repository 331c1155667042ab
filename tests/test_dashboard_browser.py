"""The dashboard in a real browser against a real `liaison serve`, and the isolation matrix over HTTP.

Headless Chromium (Debian's package, tests/fakes/browser.py) signs in through the link the
`dashboard` command answers with, sees the portfolio, opens a partner, and every figure shown
is compared with chat's own answer for the same window (`kpi ... last-week`, `sla ...`).
Screenshots of each page are kept under the test's tmp dir (artifacts/).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import aiohttp
import pytest

from bot.commands import dispatch
from bot.core import Core
from bot.messages import Message
from bot.ports import SystemClock
from bot.services.dashboard_links import login_link
from bot.services.identity import resolve_actor
from bot.settings import Settings
from bot.store.db import Database
from tests.fakes.browser import Browser
from tests.fakes.dashboard_world import (
    BRAVO_ESCALATION,
    DP_TITLE,
    PARTNERS,
    SECRET,
    liaison_serve,
    seed,
)

pytestmark = pytest.mark.slow


def _core(db: Database, url: str) -> Core:
    settings = Settings(_env_file=None, database_url=db.url, dashboard_secret=SECRET, public_url=url)
    return Core(db=db, settings=settings, clock=SystemClock())


async def _chat(core: Core, user: str, text: str) -> Message:
    actor = await resolve_actor(core, platform="console", platform_user_id=user)
    reply = await dispatch(core, text=text, actor=actor, platform="console")
    assert isinstance(reply, Message)
    return reply


async def _link(core: Core, user: str, text: str = "dashboard") -> str:
    reply = await _chat(core, user, text)
    url = reply.actions[0].url
    assert url and url.startswith(core.settings.public_url + "/dashboard/login?t=")
    return url


@pytest.fixture
async def world(db, tmp_path):
    await seed(db, now=SystemClock().now())
    with liaison_serve(db.url, tmp_path) as served:
        yield _core(db, served.url), served


def _rows(message: Message) -> list[tuple[str, str, str, str]]:
    # the partner-wide rows; chat adds a section per site ("Kraków (this site only)") after them
    return [(k.label, k.value, k.target or "-", k.status.text) for s in message.sections for k in s.kpis
            if not (s.heading or "").endswith("(this site only)")]


TABLE_JS = """[...document.querySelectorAll(%s)].map(tr => [tr.dataset.label,
  tr.querySelector('.value').innerText.trim(), tr.querySelector('.target').innerText.trim(),
  tr.querySelector('.status').innerText.trim()])"""


async def test_dashboard_in_chromium_signs_in_and_shows_chats_figures(world, tmp_path):
    core, served = world
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    async with Browser(tmp_path / "profile") as browser:
        status = await browser.goto(await _link(core, "client"))
        assert status == 200 and await browser.url() == f"{served.url}/dashboard/"
        (cookie,) = [c for c in await browser.cookies() if c["name"] == "liaison_session"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/dashboard/"
        assert 12 * 3600 - 120 < cookie["expires"] - time.time() <= 12 * 3600
        await browser.screenshot(artifacts / "portfolio.png")
        # the portfolio: both partners, each with chat's `kpi all last-week` figures
        chat_all = await _chat(core, "client", "kpi all last-week")
        for slug, (name, _tz, _sites) in PARTNERS.items():
            shown = await browser.evaluate(TABLE_JS % repr(f'section[data-slug="{slug}"] tr[data-label]'))
            heading = next(s for s in chat_all.sections if s.heading and s.heading.startswith(name))
            assert [tuple(r) for r in shown] == _rows(Message(title="", sections=(heading,)))
            assert len(shown) >= 2
        ranked = await browser.evaluate("[...document.querySelectorAll('#scorecard tbody tr')].map(t => t.dataset.partner)")
        assert sorted(ranked) == sorted(name for name, _tz, _s in PARTNERS.values())
        assert await browser.evaluate("document.querySelectorAll('td.spark svg polyline').length") >= 4
        # open a partner by its link, as a person would
        assert await browser.click('section[data-slug="acme"] h2 a') == 200
        assert (await browser.url()).endswith("/dashboard/p/acme")
        chat_acme = await _chat(core, "client", "kpi acme last-week")
        shown = await browser.evaluate(TABLE_JS % repr("#kpis tr[data-label]"))
        assert [tuple(r) for r in shown] == _rows(chat_acme) and shown
        chat_sla = await _chat(core, "client", "sla acme")
        sla_rows = await browser.evaluate(TABLE_JS % repr("#sla tr[data-label]"))
        assert [tuple(r) for r in sla_rows] == [r for r in _rows(chat_sla)]
        charts = await browser.evaluate("[...document.querySelectorAll('#charts figure')].map(f => [f.dataset.metric,"
                                        " f.querySelectorAll('polyline').length])")
        assert {m for m, _ in charts} == {"service_level", "aht"}
        # every channel (2) and every site x target scope line (2 sites) per chart
        assert all(lines >= 4 for _, lines in charts), charts
        assert "Krakow" in await browser.text("#charts") and "Lisbon" in await browser.text("#charts")
        assert DP_TITLE not in await browser.text()  # a client without the capability
        await browser.screenshot(artifacts / "partner.png")
        assert await browser.goto(f"{served.url}/dashboard/p/acme/qbr") == 200
        pack = await _chat(core, "client", "qbr pack acme")
        pack_text = await browser.text("article.pack")
        for fact in pack.sections[1].facts:
            assert fact.value in pack_text
        await browser.screenshot(artifacts / "qbr-pack.png")
        await browser.pdf(artifacts / "qbr-pack.pdf")
        assert not [e for e in browser.console_problems() if "Content Security Policy" in str(e)]
    async with Browser(tmp_path / "profile-partner") as browser:
        assert await browser.goto(await _link(core, "bravo-tl")) == 200
        page = await browser.text()
        assert "Bravo Vendimia" in page and "Acme" not in page and "acme" not in page.lower()
        await browser.screenshot(artifacts / "partner-user-portfolio.png")
        # an expired link says so and how to get a new one
        old, _ = login_link(core.settings, platform="console", platform_user_id="bravo-tl",
                            now=SystemClock().now() - timedelta(hours=1))
        assert await browser.goto(old) == 401
        text = await browser.text()
        assert "This sign-in link has expired" in text and "Type `dashboard`" in text
        await browser.screenshot(artifacts / "expired-link.png")
    assert all((artifacts / n).stat().st_size > 5000 for n in ("portfolio.png", "partner.png", "qbr-pack.png"))


async def _session(http: aiohttp.ClientSession, link: str) -> str:
    async with http.get(link, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.cookies["liaison_session"].value


def _tamper(token: str) -> str:
    payload, _, signature = token.partition(".")
    flipped = "A" if payload[5] != "A" else "B"
    return f"{payload[:5]}{flipped}{payload[6:]}.{signature}"


async def test_dashboard_isolation_matrix_has_no_leaks(world):
    core, served = world
    base = served.url
    urls = {"portfolio": "/dashboard/", "acme": "/dashboard/p/acme", "bravo": "/dashboard/p/bravo",
            "acme-pack": "/dashboard/p/acme/qbr", "bravo-pack": "/dashboard/p/bravo/qbr",
            "acme-chart": "/dashboard/p/acme/chart/service_level.svg",
            "bravo-chart": "/dashboard/p/bravo/chart/aht.svg"}
    secrets_of = {"acme": ("Acme Krzywda", "/p/acme", "Krakow", "Lisbon"),
                  "bravo": ("Bravo Vendimia", "/p/bravo", "Recife", BRAVO_ESCALATION)}
    allowed = {"client": {"acme", "bravo"}, "admin": {"acme", "bravo"}, "dp": {"acme", "bravo"},
               "acme-tl": {"acme"}, "bravo-tl": {"bravo"}}
    sees_dp = {"admin", "dp"}
    leaks: list[str] = []
    checked = 0
    async with aiohttp.ClientSession() as http:
        cookies = {who: await _session(http, await _link(core, who)) for who in allowed}
        now = SystemClock().now()
        expired, _ = login_link(core.settings, platform="console", platform_user_id="admin",
                                now=now - timedelta(minutes=core.settings.dashboard_link_minutes + 1))
        fresh, _ = login_link(core.settings, platform="console", platform_user_id="admin", now=now)
        async with http.get(expired, allow_redirects=False) as r:
            assert r.status == 401 and "has expired" in await r.text() and "liaison_session" not in r.cookies
        tampered_link = fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB")  # the signature's tail
        async with http.get(tampered_link, allow_redirects=False) as r:
            assert r.status == 401 and "not valid" in await r.text() and "liaison_session" not in r.cookies
        # a session cookie whose payload was edited (say, to another user) is refused
        bad_cookies = {"tampered session": _tamper(cookies["acme-tl"]),
                       "link used as session": fresh.split("?t=")[1], "no cookie": None}
        for who, cookie in list(cookies.items()) + list(bad_cookies.items()):
            for page, path in urls.items():
                headers = {"Cookie": f"liaison_session={cookie}"} if cookie else {}
                async with http.get(base + path, headers=headers, allow_redirects=False) as r:
                    body, status = await r.text(), r.status
                    csp = r.headers.get("Content-Security-Policy", "")
                checked += 1
                assert "script-src" not in csp and "default-src 'none'" in csp, csp
                assert "unsafe-inline" not in csp
                if who in bad_cookies:
                    if status != 401 or any(s in body for names in secrets_of.values() for s in names):
                        leaks.append(f"{who} {page}: {status}")
                    continue
                partner = page.split("-")[0]
                visible = page == "portfolio" or partner in allowed[who]
                if not visible:
                    if status != 404:
                        leaks.append(f"{who} {page}: status {status}")
                for slug, names in secrets_of.items():
                    if slug not in allowed[who] and any(s in body for s in names):
                        leaks.append(f"{who} {page}: shows {slug}")
                if visible and status != 200:
                    leaks.append(f"{who} {page}: refused ({status})")
                if (DP_TITLE in body) != (who in sees_dp and page in ("portfolio", "acme")):
                    leaks.append(f"{who} {page}: data-protection escalation {'shown' if DP_TITLE in body else 'missing'}")
                if page == "bravo" and who in allowed and "bravo" in allowed[who]:
                    assert BRAVO_ESCALATION in body
        # no state changes through the web: a POST is refused
        async with http.post(base + "/dashboard/", headers={"Cookie": f"liaison_session={cookies['admin']}"}) as r:
            assert r.status == 405
    assert checked == (len(allowed) + len(bad_cookies)) * len(urls)
    assert leaks == []


async def test_dashboard_without_session_explains_and_frames_only_in_teams(world):
    _core_, served = world
    async with aiohttp.ClientSession() as http, http.get(f"{served.url}/dashboard/") as r:
        page_status, headers, text = r.status, r.headers, await r.text()
    assert page_status == 401
    csp = headers["content-security-policy"]
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1).split()
    assert ancestors[0] == "'self'" and all("teams" in a or "office.com" in a or "cloud.microsoft" in a
                                            for a in ancestors[1:])
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert "x-frame-options" not in headers  # it cannot name Teams; frame-ancestors does
    assert "Type `dashboard`" in text
