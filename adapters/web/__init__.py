"""The read-only web dashboard, mounted at /dashboard/ on the one aiohttp app.

Routes (the one visible list, ``ROUTES`` in adapters/web/pages.py): sign-in, portfolio,
partner, QBR pack, chart SVGs, the stylesheet. Every page needs a session; none changes state.
"""

from __future__ import annotations

from aiohttp import web

from bot.core import Core


def mount(app: web.Application, core: Core) -> None:
    """Add the dashboard as a sub-application under /dashboard/ (its headers apply there only)."""
    from adapters.web.pages import build_dashboard

    app.router.add_get("/dashboard", _to_slash)
    app.add_subapp("/dashboard/", build_dashboard(core))


async def _to_slash(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/dashboard/")
