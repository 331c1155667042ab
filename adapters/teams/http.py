"""Mount Teams at POST /api/messages through botbuilder's CloudAdapter."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from bot.compose.errors import internal_error
from bot.core import Core

if TYPE_CHECKING:
    from botbuilder.core import TurnContext

log = logging.getLogger(__name__)


def mount(app: web.Application, core: Core) -> None:
    """Add /api/messages. With MICROSOFT_APP_ID set, every request must carry a valid token."""
    settings = core.settings
    auth_on = bool(settings.microsoft_app_id)
    if not auth_on and not settings.teams_allow_unauthenticated:
        log.info("Teams is not configured (MICROSOFT_APP_ID); /api/messages not mounted")
        return
    # botbuilder (with msal, msrest, azure: ~20 MB) loads only where Teams is served
    from botbuilder.core.serializer_helper import serializer_helper
    from botbuilder.schema import Activity

    from adapters.teams.adaptive_card import render_card
    from adapters.teams.auth import Unauthorized, authenticate, make_adapter
    from adapters.teams.bot import LiaisonTeamsBot, card_activity

    if not auth_on:
        log.warning("LIAISON_TEAMS_ALLOW_UNAUTHENTICATED: /api/messages accepts unauthenticated requests")
    adapter = make_adapter(settings)
    bot = LiaisonTeamsBot(core)

    async def on_error(context: TurnContext, error: Exception) -> None:
        reference = uuid.uuid4().hex[:8]
        log.error("Teams turn failed for activity %s (ref %s)", context.activity.id, reference, exc_info=error)
        try:
            await context.send_activity(card_activity(render_card(internal_error(reference))))
        except Exception:  # noqa: BLE001 - the connector may be what failed; the log already has it
            log.warning("Teams apology for activity %s could not be sent", context.activity.id, exc_info=True)

    adapter.on_turn_error = on_error

    async def messages(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "send the activity as application/json"}, status=415)
        try:
            activity = Activity().deserialize(await request.json())
        except ValueError:  # json and msrest deserialization errors are both ValueErrors
            return web.json_response({"error": "the body is not an Activity"}, status=400)
        if not activity.type:
            return web.json_response({"error": "the body is not an Activity"}, status=400)
        try:
            # Authenticate here rather than inside adapter.process: it only maps PermissionError
            # to 401, and a forged token can raise other errors (see adapters/teams/auth.py).
            auth = await authenticate(adapter, activity, request.headers.get("Authorization", ""), required=auth_on)
        except Unauthorized as exc:
            return web.json_response({"error": str(exc)}, status=401)
        invoke = await adapter.process_activity(auth, activity, bot.on_turn)
        if invoke:
            return web.json_response(serializer_helper(invoke.body), status=invoke.status)
        return web.Response(status=201)

    app.router.add_post("/api/messages", messages)
