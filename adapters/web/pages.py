"""Dashboard pages: GET only, each renders one bot.services.dashboard page with Jinja2."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from adapters.web.session import Refusal, login, viewer
from bot.core import Core
from bot.domain.access import AccessDenied
from bot.services import dashboard

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CORE: web.AppKey[Core] = web.AppKey("dashboard_core", Core)
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
# Teams shows the personal tab in a frame from these origins; nothing else may frame a page.
TEAMS_FRAME_ANCESTORS = ("https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://*.teams.cloud.microsoft",
                         "https://*.office.com", "https://*.cloud.microsoft")
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors 'self' {' '.join(TEAMS_FRAME_ANCESTORS)}")
SVG_CSP = "default-src 'none'; frame-ancestors 'none'"

_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html",)),
                         trim_blocks=True, lstrip_blocks=True)
_templates.filters["svg"] = Markup  # our own SVG (bot.compose.svg escapes every text it draws)


def render(name: str, status: int = 200, **context: object) -> web.Response:
    return web.Response(text=_templates.get_template(name).render(**context), status=status,
                        content_type="text/html", charset="utf-8")


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Turn refusals and failures into pages; put the security headers on every answer."""
    if request.method not in ("GET", "HEAD"):
        response: web.StreamResponse = render("refusal.html", 405, title="The dashboard is read-only",
                                              text="Change things in Slack or Teams; these pages only show them.")
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects (sign-in, /dashboard): headers too, then re-raise
            _secure(exc)
            raise
        except Refusal as exc:
            response = render("refusal.html", exc.status, title=exc.title, text=exc.text)
        except (dashboard.PageNotFound, AccessDenied):
            response = render("refusal.html", 404, title="No such page",
                              text="There is no page here you can see. Go back to the portfolio.", home=True)
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("dashboard %s failed (ref %s)", request.path, reference)
            response = render("refusal.html", 500, title="This page could not be shown",
                              text=f"Something went wrong on our side (reference {reference}). Try again shortly.")
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    """Put the dashboard's security headers on an answer."""
    svg = response.content_type == "image/svg+xml"
    response.headers["Content-Security-Policy"] = SVG_CSP if svg else PAGE_CSP
    if svg:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"


async def login_page(request: web.Request) -> web.Response:
    return await login(request.app[CORE], request)


async def portfolio(request: web.Request) -> web.Response:
    core = request.app[CORE]
    actor = await viewer(core, request)
    async with core.db.session() as session:
        page = await dashboard.portfolio_page(session, actor=actor, now=core.clock.now())
    return render("portfolio.html", page=page)


async def partner(request: web.Request) -> web.Response:
    core = request.app[CORE]
    actor = await viewer(core, request)
    async with core.db.session() as session:
        page = await dashboard.partner_page(session, actor=actor, slug=request.match_info["slug"], now=core.clock.now())
    return render("partner.html", page=page)


async def qbr_pack(request: web.Request) -> web.Response:
    core = request.app[CORE]
    actor = await viewer(core, request)
    quarter = request.query.get("quarter", "")
    async with core.db.session() as session:
        target = await dashboard.partner_for(session, request.match_info["slug"], actor)
        if not quarter:
            from bot.domain.qbr import quarter_of

            quarter = quarter_of(core.clock.now(), target.timezone)
        if not QUARTER.match(quarter):
            raise Refusal(400, f"'{quarter}' is not a quarter", "Write it like 2026-Q4, e.g. ?quarter=2026-Q4.")
        page = await dashboard.pack_page(session, actor=actor, slug=target.slug, quarter=quarter,
                                         now=core.clock.now())
    return render("pack.html", page=page)


async def chart(request: web.Request) -> web.Response:
    core = request.app[CORE]
    actor = await viewer(core, request)
    async with core.db.session() as session:
        svg = await dashboard.chart_svg(session, actor=actor, slug=request.match_info["slug"],
                                        metric=request.match_info["metric"], now=core.clock.now())
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8")


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(body=(HERE / "static" / "dashboard.css").read_bytes(), content_type="text/css",
                        charset="utf-8")


# The one visible list of dashboard routes (all GET).
ROUTES: tuple[tuple[str, Callable[[web.Request], Awaitable[web.Response]]], ...] = (
    ("/login", login_page),
    ("/", portfolio),
    ("/p/{slug}", partner),
    ("/p/{slug}/qbr", qbr_pack),
    ("/p/{slug}/chart/{metric}.svg", chart),
    ("/static/dashboard.css", stylesheet),
)


def build_dashboard(core: Core) -> web.Application:
    """Return the dashboard sub-application."""
    app = web.Application(middlewares=[guard])
    app[CORE] = core
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
    return app
