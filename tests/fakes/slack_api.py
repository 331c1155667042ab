"""A fake Slack Web API on 127.0.0.1: records every call, answers scripted faults, serves response_urls.

The real slack_sdk client talks to it through base_url (SLACK_API_URL); nothing is patched.
With workspaces added (``add_workspace``) it also plays Slack's OAuth side: ``oauth.v2.access``
exchanges an install code for a bot token of that team (and refreshes rotating tokens), and
every other call must carry a live token; a post goes through only to a channel of the
token's own team, so a message sent with the wrong workspace's token fails as on Slack.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
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

    @property
    def token(self) -> str | None:
        """Return the token the call was made with (Authorization: Bearer, or a token argument)."""
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else self.body.get("token")


@dataclass
class FakeWorkspace:
    team_id: str
    name: str
    channels: set[str]
    code: str  # the install code Slack hands back to /slack/oauth_redirect after "Allow"


@dataclass
class Scripted:
    """One scripted answer: an HTTP status, a Slack error, Retry-After, or a delay."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    body: dict[str, Any] | None = None  # answer 200 with exactly this JSON (e.g. an answer missing a field)


@dataclass
class FakeSlackApi:
    calls: list[ApiCall] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_url
    script: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    uploads: list[bytes] = field(default_factory=list)
    _ts: int = 0
    base_url: str = ""
    workspaces: dict[str, FakeWorkspace] = field(default_factory=dict)
    client_id: str = "1111.2222"
    client_secret: str = "fake-client-secret"
    tokens: dict[str, str] = field(default_factory=dict)  # live bot token -> team id
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # live refresh token -> team id
    # token rotation on (the app setting): installs hand out a token expiring this soon, plus a refresh token
    rotation_expires_in: int | None = None
    _issued: int = 0
    _runner: web.AppRunner | None = None
    # channel -> every message posted to it, in order (what conversations.history reads)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    upload_failures: int = 0  # answer this many file upload POSTs with 500 (slack_sdk: SlackRequestError)
    # Slack's per-channel limit, strict: a chat.postMessage to a channel less than this many seconds
    # after the last one it accepted gets 429 with Retry-After (whole seconds, rounded up). 0: no limit.
    channel_interval: float = 0.0
    rate_limited: list[ApiCall] = field(default_factory=list)  # the posts refused by that limit
    _accepted_at: dict[str, float] = field(default_factory=dict)  # channel -> when its last post was accepted

    def fail_next(self, method: str, *answers: Scripted) -> None:
        """Queue answers for the next calls of ``method`` (e.g. a 429, then a 500)."""
        self.script[method].extend(answers)

    def add_workspace(self, team_id: str, *, name: str, channels: tuple[str, ...] = ()) -> FakeWorkspace:
        """Create a workspace that can install the app (its code is ``code-<team>``)."""
        ws = FakeWorkspace(team_id=team_id, name=name, channels=set(channels), code=f"code-{team_id}")
        self.workspaces[team_id] = ws
        return ws

    def revoke(self, team_id: str) -> None:
        """Invalidate every token of a team, as Slack does when the app is uninstalled."""
        self.tokens = {t: team for t, team in self.tokens.items() if team != team_id}
        self.refresh_tokens = {t: team for t, team in self.refresh_tokens.items() if team != team_id}

    def _issue(self, team_id: str, *, expires_in: int | None) -> dict[str, Any]:
        self._issued += 1
        token = f"xoxb-{team_id}-{self._issued}"
        self.tokens[token] = team_id
        answer: dict[str, Any] = {"access_token": token, "token_type": "bot"}
        if expires_in is not None:
            refresh = f"xoxe-1-{team_id}-{self._issued}"
            self.refresh_tokens[refresh] = team_id
            answer |= {"refresh_token": refresh, "expires_in": expires_in}
        return answer

    def _oauth(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        auth = request.headers.get("Authorization", "")
        creds = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth.startswith("Basic ") else \
            f"{body.get('client_id')}:{body.get('client_secret')}"
        if creds != f"{self.client_id}:{self.client_secret}":
            return {"ok": False, "error": "invalid_client_id"}
        if body.get("grant_type") == "refresh_token":
            team_id = self.refresh_tokens.get(body.get("refresh_token", ""))
            if team_id is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            # a refreshed token lives 12 hours (Slack's figure)
            return {"ok": True, **self._issue(team_id, expires_in=43200), "team": {"id": team_id}}
        ws = next((w for w in self.workspaces.values() if w.code == body.get("code")), None)
        if ws is None:
            return {"ok": False, "error": "invalid_code"}
        return {"ok": True, **self._issue(ws.team_id, expires_in=self.rotation_expires_in),
                "scope": "commands,chat:write,chat:write.public,im:write,files:write", "bot_user_id": f"U0BOT{ws.team_id}",
                "app_id": "A0APP", "team": {"id": ws.team_id, "name": ws.name}, "enterprise": None,
                "is_enterprise_install": False, "authed_user": {"id": f"U0INSTALLER{ws.team_id}"}}

    def _refuse(self, call: ApiCall) -> dict[str, Any] | None:
        """Answer as Slack would a call whose token is dead or from another workspace, else None."""
        if not self.workspaces:
            return None  # single-token tests: any token is fine
        team_id = self.tokens.get(call.token or "")
        if team_id is None:
            return {"ok": False, "error": "invalid_auth"}
        channel = str(call.body.get("channel") or "")
        if call.method in ("chat.postMessage", "chat.update") and channel.startswith("C") \
                and channel not in self.workspaces[team_id].channels:
            return {"ok": False, "error": "channel_not_found"}
        return None

    def of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def pace(self, method: str = "chat.postMessage") -> tuple[float, int]:
        """Return (smallest gap in seconds between two posts to one channel, most posts to one channel in any
        one second), from the arrival times this fake recorded; (inf, 0) when nothing was posted."""
        by_channel: dict[str, list[float]] = {}
        for call in self.of(method):
            by_channel.setdefault(str(call.body.get("channel")), []).append(call.at)
        gaps = [b - a for times in by_channel.values() for a, b in zip(times, times[1:], strict=False)]
        busiest = max((sum(1 for t in times if start <= t < start + 1) for times in by_channel.values()
                       for start in times), default=0)
        return (min(gaps, default=float("inf")), busiest)

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
        call = ApiCall(method, body, dict(request.headers), time.monotonic())
        self.calls.append(call)
        if method == "oauth.v2.access":
            return web.json_response(self._oauth(request, body))
        if (refusal := self._refuse(call)) is not None:
            return web.json_response(refusal)
        if method == "chat.postMessage" and self.channel_interval:
            channel = str(body.get("channel"))
            wait = self._accepted_at.get(channel, float("-inf")) + self.channel_interval - call.at
            if wait > 0:
                self.rate_limited.append(call)
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(math.ceil(wait))})
            self._accepted_at[channel] = call.at
        if self.script[method]:
            answer = self.script[method].popleft()
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.body is not None:
                return web.json_response(answer.body)
            if answer.status != 200 or answer.error:
                headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after is not None else {}
                return web.json_response({"ok": False, "error": answer.error or "internal_error"},
                                         status=answer.status, headers=headers)
        return web.json_response(self._answer(method, body, token=call.token))

    def _answer(self, method: str, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        match method:
            case "auth.test" if self.workspaces:
                team_id = self.tokens[str(token)]
                return {"ok": True, "user_id": f"U0BOT{team_id}", "bot_id": f"B0BOT{team_id}", "team_id": team_id,
                        "team": self.workspaces[team_id].name, "url": f"https://{team_id.lower()}.slack.com/"}
            case "auth.test":
                return {"ok": True, "user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0TEAM", "team": "Test",
                        "url": "https://test.slack.com/"}
            case "chat.postMessage":
                # every post is kept, repeats included (never de-duplicated): tests count copies
                self.messages[str(body.get("channel"))].append(
                    {"ts": ts, "text": body.get("text"), "thread_ts": body.get("thread_ts"), "posted": time.time(),
                     "metadata": metadata_of(body.get("metadata"))})
                return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": {"text": body.get("text")}}
            case "chat.update":
                return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts") or ts,
                        "message": {"text": body.get("text")}}
            case "conversations.history" | "conversations.replies":
                return {"ok": True, "messages": history(self.messages[str(body.get("channel"))], body, method),
                        "has_more": False}
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
        data = await request.read()
        if self.upload_failures:
            self.upload_failures -= 1
            return web.Response(status=500, text="upload failed")
        self.uploads.append(data)
        return web.Response(text="OK")

    async def respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def start(self) -> str:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self.api)
        app.router.add_get("/api/{method}", self.api)  # slack_sdk reads history with GET
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


def metadata_of(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    return raw if isinstance(raw, dict) else None


def history(posted: list[dict[str, Any]], body: dict[str, Any], method: str) -> list[dict[str, Any]]:
    """Answer conversations.history (top-level messages, newest first) or .replies (a thread, oldest first).

    Like Slack, metadata is included only when the call asks for it (include_all_metadata).
    ``oldest`` is compared with the wall-clock moment of the post (the fake's ts are counters).
    """
    oldest = float(body.get("oldest") or 0)
    with_meta = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
    if method == "conversations.replies":
        ts = str(body.get("ts"))
        found = [m for m in posted if m["ts"] == ts or m.get("thread_ts") == ts]
    else:
        found = [m for m in reversed(posted) if not m.get("thread_ts")]
    out = []
    for m in found:
        if m["posted"] < oldest:
            continue
        shown = {"type": "message", "ts": m["ts"], "text": m.get("text")}
        if with_meta and m.get("metadata"):
            shown["metadata"] = m["metadata"]
        out.append(shown)
    return out
