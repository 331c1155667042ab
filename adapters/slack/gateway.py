"""Deliver outbox messages to Slack: post, thread, edit in place, DM, upload charts.

A destination may name its workspace ("T0ACME/C0ALERTS", "T0ACME/U0MARIA" for a DM); with OAuth
each is sent with that workspace's installed token, and refs keep the workspace ("T0ACME/C0:TS").
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import web_client
from adapters.slack.blockkit import render_message
from bot.core import Core
from bot.messages import Message
from bot.ports import DeliveryError, PostResult
from bot.services.outbox import DIRECT_PREFIX, WORKSPACE_SEPARATOR, split_workspace

log = logging.getLogger(__name__)

GONE = {"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "cannot_dm_bot",
        "message_not_found", "user_disabled"}
FATAL = {"invalid_auth", "account_inactive", "token_revoked", "not_authed", "missing_scope", "invalid_blocks",
         "msg_too_long", "no_text"}


# Every message the outbox posts carries its key in Slack message metadata under this event type,
# so a send whose outcome is unknown (the sender died mid-send) can be found before posting again.
METADATA_EVENT = "liaison_outbox"
# How much recent history a lookup reads (pages of this size): a few minutes of a busy channel.
HISTORY_PAGE = 200
HISTORY_PAGES = 3


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
            # no answer: Slack may have taken the call (the outbox looks before posting again)
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}", retryable=True,
                                in_doubt=True) from exc

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        workspace, channel = split_workspace(destination)
        kwargs: dict[str, object] = {"channel": channel, "unfurl_links": False, **render_message(message)}
        if thread_ref:
            kwargs["thread_ts"] = split_ref(thread_ref)[1]
        data = await self._call("chat_postMessage", workspace=workspace, **kwargs)
        channel, ts = data["channel"], data["ts"]
        await self._upload_files(message, channel=channel, ts=ts, workspace=workspace)
        return PostResult(ref=f"{_qualified(workspace, channel)}:{ts}", thread_ref=thread_ref)

    async def _upload_files(self, message: Message, *, channel: str, ts: str, workspace: str = "") -> list[str]:
        """Upload the chart and attachments into the posted message's thread.

        The message is already posted, so a failed upload must not fail the row (the outbox
        would post the message again); the message reads on its own, and the failure is logged
        and returned.
        """
        uploads: list[dict[str, object]] = []
        if message.image and message.image.png:
            uploads.append({"content": message.image.png, "filename": "chart.png",
                            "title": message.image.title or message.image.alt, "alt_txt": message.image.alt})
        uploads += [{"content": a.content, "filename": a.filename, "title": a.title or a.filename}
                    for a in message.attachments]
        failed = []
        for upload in uploads:
            try:
                await self._call("files_upload_v2", workspace=workspace, channel=channel, thread_ts=ts, **upload)
            except Exception as exc:  # noqa: BLE001 - SlackApiError, SlackRequestError (the upload POST), TypeError
                # (an answer without upload_url), DeliveryError: none of them may repeat the posted message
                log.warning("posted %s:%s but could not upload %s: %s", channel, ts, upload["filename"], exc)
                failed.append(f"{upload['filename']}: {type(exc).__name__}: {exc}")
        return failed

    async def _channel_of(self, destination: str) -> tuple[str, str]:
        """Return (workspace, channel id) of an outbox destination; a ``user:`` one opens the DM."""
        if destination.startswith(DIRECT_PREFIX):
            workspace, user = split_workspace(destination[len(DIRECT_PREFIX):])
            data = await self._call("conversations_open", workspace=workspace, users=user)
            return workspace, data["channel"]["id"]
        return split_workspace(destination)

    async def post_keyed(self, destination: str, message: Message, *, key: str,
                         thread_ref: str | None = None) -> PostResult:
        """Post the message alone, its outbox key in the message metadata (files: ``attach``)."""
        workspace, channel = await self._channel_of(destination)
        kwargs: dict[str, object] = {"channel": channel, "unfurl_links": False, **render_message(message),
                                     "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": key}}}
        if thread_ref:
            kwargs["thread_ts"] = split_ref(thread_ref)[1]
        data = await self._call("chat_postMessage", workspace=workspace, **kwargs)
        return PostResult(ref=f"{_qualified(workspace, data['channel'])}:{data['ts']}", thread_ref=thread_ref)

    async def find_posted(self, destination: str, key: str, *, thread_ref: str | None = None,
                          since: datetime | None = None) -> str | None:
        """Look for the message tagged ``key`` in the channel's recent history (or the thread)."""
        workspace, channel = await self._channel_of(destination)
        args: dict[str, object] = {"channel": channel, "include_all_metadata": True, "limit": HISTORY_PAGE}
        if since is not None:
            args["oldest"] = f"{since.timestamp():.6f}"
        method = "conversations_history"
        if thread_ref:
            method, args["ts"] = "conversations_replies", split_ref(thread_ref)[1]
        for _page in range(HISTORY_PAGES):
            data = await self._call(method, workspace=workspace, **args)
            for found in data.get("messages", []):
                meta = found.get("metadata") or {}
                if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == key:
                    return f"{_qualified(workspace, channel)}:{found['ts']}"
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            args["cursor"] = cursor
        return None

    async def attach(self, ref: str, message: Message) -> None:
        """Upload the message's chart and attachments into the thread of the posted ``ref``."""
        where, ts = split_ref(ref)
        workspace, channel = split_workspace(where)
        failed = await self._upload_files(message, channel=channel, ts=ts, workspace=workspace)
        if failed:
            raise DeliveryError("; ".join(failed)[:900], retryable=False)

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
    # a non-JSON answer (an HTML error page from a proxy) has text for data
    error = str(response.get("error", "")) if response is not None and isinstance(response.data, dict) else ""
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
