"""Mount Slack at POST /slack/events (commands, interactivity and events on one URL)."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from adapters.slack.app import create_app
from bot.core import Core

log = logging.getLogger(__name__)
BOLT_KEY = web.AppKey("slack_bolt_app", object)


def mount(app: web.Application, core: Core) -> None:
    """Add /slack/events when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set."""
    settings = core.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        log.info("Slack is not configured (SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET); /slack/events not mounted")
        return
    bolt = create_app(core)
    app[BOLT_KEY] = bolt

    async def slack_events(request: web.Request) -> web.Response:
        # Bolt verifies the signature and timestamp; a forged or stale request gets 401 here.
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    app.router.add_post("/slack/events", slack_events)
