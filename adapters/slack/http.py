"""Mount Slack at POST /slack/events (commands, interactivity and events on one URL).

With OAuth configured, GET /slack/install (the "Add to Slack" page) and GET /slack/oauth_redirect
(where Slack sends the installer back) are Bolt's OAuth flow.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from adapters.slack.app import create_app
from bot.core import Core

log = logging.getLogger(__name__)
BOLT_KEY = web.AppKey("slack_bolt_app", object)


def mount(app: web.Application, core: Core) -> None:
    """Add /slack/events (and the OAuth pages) when Slack is configured."""
    settings = core.settings
    if missing := settings.slack_oauth_missing():
        log.error("Slack OAuth is half configured: set %s too (or unset the others to use SLACK_BOT_TOKEN)",
                  " and ".join(missing))
    if not settings.slack_configured:
        log.info("Slack is not configured (SLACK_SIGNING_SECRET with SLACK_BOT_TOKEN or OAuth); "
                 "/slack/events not mounted")
        return
    bolt = create_app(core)
    app[BOLT_KEY] = bolt

    async def slack_events(request: web.Request) -> web.Response:
        # Bolt verifies the signature and timestamp; a forged or stale request gets 401 here.
        # slack_sdk's verifier int()s the timestamp and would raise (a 500) on "abc": refuse it first.
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    app.router.add_post("/slack/events", slack_events)
    flow = bolt.oauth_flow
    if flow is None:
        return

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(request: web.Request) -> web.Response:
        # Bolt checks the state cookie and consumes the state, then exchanges the code (oauth.v2.access).
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    app.router.add_get(flow.install_path, install)
    app.router.add_get(flow.redirect_uri_path, oauth_redirect)
