"""Deliver outbox messages to Slack: post, thread, edit in place, DM, upload charts.

A destination may name its workspace ("T0ACME/C0ALERTS", "T0ACME/U0MARIA" for a DM); with OAuth
each is sent with that workspace's installed token, and refs keep the workspace ("T0ACME/C0:TS").
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import web_client
from adapters.slack.blockkit import render_message
from bot.core import Core
from bot.messages import Message
from bot.ports import DeliveryError, PostResult
from bot.services.outbox import WORKSPACE_SEPARATOR, split_workspace

log = logging.getLogger(__name__)

GONE = {"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "cannot_dm_bot",
        "message_not_found", "user_disabled"}
FATAL = {"invalid_auth", "account_inactive", "token_revoked", "not_authed", "missing_scope", "invalid_blocks",
         "msg_too_long", "no_text"}


def split_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


def _qualified(workspace: str, address: str) -> str:
    return f"{workspace}{WORKSPACE_SEPARATOR}{address}" if workspace else address


class SlackGateway:
    """ChatGateway for Slack; refs are "CHANNEL:TS" (or "TEAM/CHANNEL:TS")."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, tokens: object | None = None) -> None:
        self.client = client
        # WorkspaceTokens with OAuth (adapters/slack/oauth.py); None: every message uses ``client``'s token
        self.tokens = tokens
        self._clients: dict[str, tuple[str, AsyncWebClient]] = {}

    async def _client_for(self, workspace: str) -> AsyncWebClient:
        if self.tokens is None:
            return self.client
        if not workspace:
            raise DeliveryError("Slack: the destination names no workspace; write it as T0123ABCD/C0123ABCD "
                                "in liaison.yaml (OAuth installs have one token per workspace)", retryable=False)
        try:
            token = await self.tokens.token(workspace)  # type: ignore[attr-defined]
        except SlackTokenRotationError as exc:
            raise _delivery_error(exc.api_error) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}", retryable=True) from exc
        if token is None:
            raise DeliveryError(f"Slack: Liaison is not installed in workspace {workspace}; "
                                "install it through /slack/install", retryable=False)
        cached = self._clients.get(workspace)
        if cached is None or cached[0] != token:
            cached = (token, AsyncWebClient(token=token, base_url=self.client.base_url, timeout=self.client.timeout))
            self._clients[workspace] = cached
        return cached[1]

    async def _call(self, method: str, *, workspace: str = "", **kwargs: object) -> dict:
        client = await self._client_for(workspace)
        try:
            response = await getattr(client, method)(**kwargs)
            return response.data  # type: ignore[return-value]
        except SlackApiError as exc:
            raise _delivery_error(exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}", retryable=True) from exc

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        workspace, channel = split_workspace(destination)
        kwargs: dict[str, object] = {"channel": channel, "unfurl_links": False, **render_message(message)}
        if thread_ref:
            kwargs["thread_ts"] = split_ref(thread_ref)[1]
        data = await self._call("chat_postMessage", workspace=workspace, **kwargs)
        channel, ts = data["channel"], data["ts"]
        await self._upload_files(message, channel=channel, ts=ts, workspace=workspace)
        return PostResult(ref=f"{_qualified(workspace, channel)}:{ts}", thread_ref=thread_ref)

    async def _upload_files(self, message: Message, *, channel: str, ts: str, workspace: str = "") -> None:
        """Upload the chart and attachments into the posted message's thread.

        The message is already posted, so a failed upload must not fail the row (the outbox
        would post the message again); the message reads on its own, and the failure is logged.
        """
        uploads: list[dict[str, object]] = []
        if message.image and message.image.png:
            uploads.append({"content": message.image.png, "filename": "chart.png",
                            "title": message.image.title or message.image.alt, "alt_txt": message.image.alt})
        uploads += [{"content": a.content, "filename": a.filename, "title": a.title or a.filename}
                    for a in message.attachments]
        for upload in uploads:
            try:
                await self._call("files_upload_v2", workspace=workspace, channel=channel, thread_ts=ts, **upload)
            except DeliveryError as exc:
                log.warning("posted %s:%s but could not upload %s: %s", channel, ts, upload["filename"], exc)

    async def update(self, ref: str, message: Message) -> None:
        where, ts = split_ref(ref)
        workspace, channel = split_workspace(where)
        await self._call("chat_update", workspace=workspace, channel=channel, ts=ts, **render_message(message))

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        workspace, user = split_workspace(user_id)
        data = await self._call("conversations_open", workspace=workspace, users=user)
        return await self.post(_qualified(workspace, data["channel"]["id"]), message)


def _delivery_error(exc: SlackApiError) -> DeliveryError:
    response = exc.response
    error = str(response.get("error", "")) if response is not None else ""
    status = response.status_code if response is not None else 0
    if status == 429 or error == "ratelimited":
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return DeliveryError("Slack rate limit", retryable=True, retry_after=float(retry_after or 1))
    if error in GONE:
        return DeliveryError(f"Slack: {error}", retryable=False, gone=True)
    if error in FATAL:
        return DeliveryError(f"Slack: {error}", retryable=False)
    return DeliveryError(f"Slack: {error or status}", retryable=status >= 500 or not error)


def gateway_from_core(core: Core) -> SlackGateway:
    """Build the outbox's Slack gateway (no in-client rate-limit sleeping: the worker holds instead).

    With OAuth it sends each message with the token installed in its destination's workspace.
    """
    client = web_client(core, retry_rate_limits=False)
    tokens = None
    if core.settings.slack_oauth:
        from adapters.slack.oauth import WorkspaceTokens

        tokens = WorkspaceTokens(core, client=web_client(core))
    return SlackGateway(client, tokens=tokens)
