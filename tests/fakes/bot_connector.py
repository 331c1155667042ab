"""A fake Bot Connector on 127.0.0.1: records replies, updates, proactive sends and new conversations; scripted failures.

Activities point their serviceUrl here, so the real botbuilder ConnectorClient talks to it.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.core import Core
from bot.store.conversations import ConversationRef


@dataclass
class ConnectorCall:
    verb: str  # send | reply | update | create
    conversation: str
    activity_id: str | None
    activity: dict[str, Any]
    response_id: str = ""  # the id the connector answered with (what replyToId / updates later name)
    body_bytes: int = 0  # the request body's length on the wire (what Teams' 28 KB limit counts)


@dataclass
class FakeBotConnector:
    calls: list[ConnectorCall] = field(default_factory=list)
    failures: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    base_url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    def fail_next(self, status: int, *, retry_after: int | None = None) -> None:
        self.failures.append((status, {"Retry-After": str(retry_after)} if retry_after else {}))

    def of(self, verb: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.verb == verb]

    def cards(self, verb: str | None = None) -> list[dict[str, Any]]:
        """Return the Adaptive Cards sent (optionally of one verb), in order."""
        return [a["content"] for c in self.calls if verb in (None, c.verb)
                for a in c.activity.get("attachments") or [] if a.get("contentType", "").endswith("adaptive")]

    async def _handle(self, request: web.Request, verb: str) -> web.Response:
        if self.failures:
            status, headers = self.failures.popleft()
            return web.json_response({"error": {"code": str(status), "message": "scripted"}}, status=status,
                                     headers=headers)
        raw = await request.read()
        activity = json.loads(raw)
        if verb == "create":
            # the body is ConversationParameters; Teams answers with the new personal chat's id
            conversation = f"a:personal-{next(self._ids)}"
            self.calls.append(ConnectorCall(verb, conversation, None, activity))
            return web.json_response({"id": conversation}, status=201)
        conversation = request.match_info["conversation"]
        activity_id = request.match_info.get("activity")
        new_id = activity_id if verb == "update" else f"act-{next(self._ids)}"
        self.calls.append(ConnectorCall(verb, conversation, activity_id, activity, new_id, body_bytes=len(raw)))
        return web.json_response({"id": new_id})

    async def create(self, request: web.Request) -> web.Response:
        return await self._handle(request, "create")

    async def send(self, request: web.Request) -> web.Response:
        return await self._handle(request, "send")

    async def reply(self, request: web.Request) -> web.Response:
        return await self._handle(request, "reply")

    async def update(self, request: web.Request) -> web.Response:
        return await self._handle(request, "update")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self.create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self.send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self.reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self.update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def known_channel(core: Core, service_url: str, *, key: str, name: str, tenant_id: str | None = "tenant-1") -> None:
    """Store the conversation reference Teams would have given us for channel ``key`` (named ``name``)."""
    async with core.db.transaction() as s:
        s.add(ConversationRef(key=key, name=name, service_url=service_url, tenant_id=tenant_id,
                              reference={"conversation": {"id": key, "isGroup": True}, "serviceUrl": service_url,
                                         "channelId": "msteams", "bot": {"id": "28:bot"}},
                              updated_at=core.clock.now()))
