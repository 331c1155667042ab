"""A fake Bot Connector on 127.0.0.1: records replies, updates, proactive sends and new conversations; scripted failures.

Activities point their serviceUrl here, so the real botbuilder ConnectorClient talks to it.
It never de-duplicates: a repeated send is recorded again. Runs in-process (``start()``) or as
its own process (``python -m tests.fakes.bot_connector PORT LOGFILE [DELAY]``) for tests with
real ``liaison serve`` replicas: then every call is appended to LOGFILE as a JSON line with its
arrival time (``time.monotonic``), so the count survives any replica, and with DELAY each
answer comes that long after the call was taken (the message is already in the conversation).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
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
    log_path: str | None = None  # append every call as a JSON line (survives the bot's process)
    answer_delay: float = 0.0  # answer this long after taking the call (a slow platform)
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
        if self.log_path:
            _append_line(self.log_path, json.dumps({"verb": verb, "conversation": conversation, "id": new_id,
                                                    "title": first_text(activity), "at": time.monotonic()}))
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return web.json_response({"id": new_id})

    async def create(self, request: web.Request) -> web.Response:
        return await self._handle(request, "create")

    async def send(self, request: web.Request) -> web.Response:
        return await self._handle(request, "send")

    async def reply(self, request: web.Request) -> web.Response:
        return await self._handle(request, "reply")

    async def update(self, request: web.Request) -> web.Response:
        return await self._handle(request, "update")

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self.create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self.send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self.reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self.update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def first_text(activity: dict[str, Any]) -> str:
    """Return the first TextBlock of the activity's Adaptive Card (a message's title), else its text."""
    def walk(node: Any) -> str | None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and node.get("text"):
                return str(node["text"])
            return next((t for t in map(walk, node.values()) if t is not None), None)
        if isinstance(node, list):
            return next((t for t in map(walk, node) if t is not None), None)
        return None

    return walk(activity.get("attachments") or []) or str(activity.get("text") or "")


def _append_line(path: str, line: str) -> None:
    # a tiny local append per call: a killed bot process must not lose what the fake took
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def known_channel(core: Core, service_url: str, *, key: str, name: str, tenant_id: str | None = "tenant-1") -> None:
    """Store the conversation reference Teams would have given us for channel ``key`` (named ``name``)."""
    async with core.db.transaction() as s:
        s.add(ConversationRef(key=key, name=name, service_url=service_url, tenant_id=tenant_id,
                              reference={"conversation": {"id": key, "isGroup": True}, "serviceUrl": service_url,
                                         "channelId": "msteams", "bot": {"id": "28:bot"}},
                              updated_at=core.clock.now()))


async def _main(port: int, log_path: str, answer_delay: float) -> None:
    fake = FakeBotConnector(log_path=log_path, answer_delay=answer_delay)
    print(await fake.start(port), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.0))
