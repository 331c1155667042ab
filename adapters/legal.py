"""Serve /privacy and /terms, the pages the Teams app package links to (Teams requires both links)."""

from __future__ import annotations

from aiohttp import web

from bot.core import Core

PRIVACY = """<!doctype html><meta charset="utf-8"><title>Liaison privacy</title>
<h1>Liaison: privacy</h1>
<p>Liaison is run by your organisation on its own servers. It stores the KPI measurements your partners
send, escalations, feedback, reverse reports and QBR notes, and the chat ids of the people in its
configuration, in your organisation's database. It sends nothing to anyone but the Slack and Microsoft
Teams workspaces it is installed in. Partner users see only their own partner's data. Ask your Liaison
administrator to correct or remove data about you.</p>
"""
TERMS = """<!doctype html><meta charset="utf-8"><title>Liaison terms of use</title>
<h1>Liaison: terms of use</h1>
<p>Liaison is an internal tool of your organisation. Use it for the partnership work it supports; your
organisation's own policies for Slack, Teams and partner data apply. Ask your Liaison administrator
about anything unclear.</p>
"""


def mount(app: web.Application, core: Core) -> None:  # noqa: ARG001 - every HTTP part mounts the same way
    """Add GET /privacy and GET /terms."""

    async def privacy(request: web.Request) -> web.Response:
        return web.Response(text=PRIVACY, content_type="text/html")

    async def terms(request: web.Request) -> web.Response:
        return web.Response(text=TERMS, content_type="text/html")

    app.router.add_get("/privacy", privacy)
    app.router.add_get("/terms", terms)
