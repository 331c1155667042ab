"""A fake Slack Web API on 127.0.0.1: records every call, answers scripted faults, serves response_urls.

The real slack_sdk client talks to it through base_url (SLACK_API_URL); nothing is patched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ApiCall:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Scripted:
    """One scripted answer: an HTTP status, a Slack error, Retry-After, or a delay."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class FakeSlackApi:
    calls: list[ApiCall] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_url
    script: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    uploads: list[bytes] = field(default_factory=list)
    _ts: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def fail_next(self, method: str, *answers: Scripted) -> None:
        """Queue answers for the next calls of ``method`` (e.g. a 429, then a 500)."""
        self.script[method].extend(answers)

    def of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.base_url}response/{name}"

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        if request.content_type.startswith("multipart/"):
            data: dict[str, Any] = {}
            async for part in await request.multipart():
                data[part.name] = await part.read()
            return data
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str) and key in ("blocks", "view", "attachments"):
                try:
                    out[key] = json.loads(value)
                    continue
                except json.JSONDecodeError:
                    pass
            out[key] = value
        return out

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        # slack_sdk sends some arguments as query parameters (params=) and the rest in the body
        body = {**dict(request.query), **await self._body(request)}
        self.calls.append(ApiCall(method, body, dict(request.headers), time.monotonic()))
        if self.script[method]:
            answer = self.script[method].popleft()
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.status != 200 or answer.error:
                headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after is not None else {}
                return web.json_response({"ok": False, "error": answer.error or "internal_error"},
                                         status=answer.status, headers=headers)
        return web.json_response(self._answer(method, body))

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        match method:
            case "auth.test":
                return {"ok": True, "user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0TEAM", "team": "Test",
                        "url": "https://test.slack.com/"}
            case "chat.postMessage" | "chat.update":
                return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts") or ts,
                        "message": {"text": body.get("text")}}
            case "conversations.open":
                return {"ok": True, "channel": {"id": f"D{body.get('users')}"}}
            case "views.open" | "views.publish" | "views.update":
                return {"ok": True, "view": {"id": f"V{self._ts}"}}
            case "files.getUploadURLExternal":
                return {"ok": True, "upload_url": f"{self.base_url}upload/F{self._ts}", "file_id": f"F{self._ts}"}
            case "files.completeUploadExternal":
                return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                              for f in json.loads(body.get("files", "[]"))]}
            case _:
                return {"ok": True}

    async def upload(self, request: web.Request) -> web.Response:
        self.uploads.append(await request.read())
        return web.Response(text="OK")

    async def respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def start(self) -> str:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self.api)
        app.router.add_post("/upload/{file}", self.upload)
        app.router.add_post("/response/{name}", self.respond)
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

    async def wait_for(self, predicate, within: float = 5.0) -> None:  # noqa: ANN001
        """Wait until ``predicate(self)`` holds (listeners finish after the 200 ack)."""
        deadline = time.monotonic() + within
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"fake Slack never saw what the test waited for; calls: "
                                     f"{[c.method for c in self.calls]}, responses: {len(self.responses)}")
            await asyncio.sleep(0.01)
