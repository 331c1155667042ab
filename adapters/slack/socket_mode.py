"""Socket Mode: receive Slack requests over a WebSocket, for workspaces without a public URL."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from adapters.slack.app import create_app
from bot.core import Core


async def start(core: Core) -> AsyncSocketModeHandler:
    """Connect with SLACK_APP_TOKEN (xapp-...) and return the running handler."""
    token = core.settings.slack_app_token
    if token is None:
        raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN (an app-level token with connections:write)")
    handler = AsyncSocketModeHandler(create_app(core), token.get_secret_value())
    await handler.connect_async()
    return handler
