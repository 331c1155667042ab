"""Mount Teams at POST /api/messages through botbuilder's CloudAdapter."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from botbuilder.core import TurnContext

from adapters.teams.adaptive_card import render_card
from adapters.teams.auth import looks_like_bearer_jwt, make_adapter
from adapters.teams.bot import LiaisonTeamsBot, card_activity
from bot.compose.errors import internal_error
from bot.core import Core

log = logging.getLogger(__name__)


def mount(app: web.Application, core: Core) -> None:
    """Add /api/messages. With MICROSOFT_APP_ID set, every request must carry a valid token."""
    settings = core.settings
    auth_on = bool(settings.microsoft_app_id)
    if not auth_on and not settings.teams_allow_unauthenticated:
        log.info("Teams is not configured (MICROSOFT_APP_ID); /api/messages not mounted")
        return
    if not auth_on:
        log.warning("LIAISON_TEAMS_ALLOW_UNAUTHENTICATED: /api/messages accepts unauthenticated requests")
    adapter = make_adapter(settings)
    bot = LiaisonTeamsBot(core)

    async def on_error(context: TurnContext, error: Exception) -> None:
        reference = uuid.uuid4().hex[:8]
        log.error("Teams turn failed for activity %s (ref %s)", context.activity.id, reference, exc_info=error)
        await context.send_activity(card_activity(render_card(internal_error(reference))))

    adapter.on_turn_error = on_error

    async def messages(request: web.Request) -> web.Response:
        if auth_on and not looks_like_bearer_jwt(request.headers.get("Authorization", "")):
            return web.json_response({"error": "missing or malformed Bot Framework token"}, status=401)
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "send the activity as application/json"}, status=415)
        try:
            response = await adapter.process(request, bot)
        except web.HTTPUnauthorized:
            return web.json_response({"error": "invalid Bot Framework token"}, status=401)
        return response or web.Response(status=201)

    app.router.add_post("/api/messages", messages)
