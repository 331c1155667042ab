"""A fake Zendesk Support API on 127.0.0.1: paginated tickets and ratings, scripted faults.

The real connector talks to it through its base URL over real HTTP; nothing is patched.
Serves ``/api/v2/incremental/tickets/cursor.json`` (start_time or cursor, include=metric_sets,
``end_of_stream``/``after_url``) and ``/api/v2/satisfaction_ratings`` (``page[size]``,
``page[after]``, ``meta.has_more``/``links.next``), checks API-token basic auth, and answers
queued faults first: a status with Retry-After, a 5xx, or a reply slower than the client waits.
"""

from __future__ import annotations

import asyncio
import base64
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

TICKETS = "/api/v2/incremental/tickets/cursor.json"
RATINGS = "/api/v2/satisfaction_ratings"


@dataclass
class Fault:
    """One scripted answer: an HTTP status (with Retry-After), or a normal answer after a delay."""

    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    query: dict[str, str]


@dataclass
class FakeZendesk:
    email: str = "bpo@client.example"
    token: str = "zd-token"
    tickets: list[dict[str, Any]] = field(default_factory=list)
    metric_sets: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2  # small, so a handful of tickets spans several pages
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def script(self, path: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``path`` (e.g. a 429, then a 500)."""
        self.faults[path].extend(faults)

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _fault(self, path: str) -> web.Response | None:
        queue = self.faults.get(path)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 200:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return web.json_response({"error": f"scripted {fault.status}"}, status=fault.status, headers=headers)

    async def _guard(self, request: web.Request) -> web.Response | None:
        self.seen.append(Seen(request.path, dict(request.query)))
        if not self._authorized(request):
            return web.json_response({"error": "Couldn't authenticate you"}, status=401)
        return await self._fault(request.path)

    @staticmethod
    def _cursor(start: int, offset: int) -> str:
        return base64.urlsafe_b64encode(f"{start}:{offset}".encode()).decode()

    @staticmethod
    def _decode(cursor: str) -> tuple[int, int]:
        start, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return int(start), int(offset)

    async def incremental_tickets(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        q = request.query
        size = min(int(q.get("per_page", self.page_size)), self.page_size)
        start, offset = self._decode(q["cursor"]) if "cursor" in q else (int(q["start_time"]), 0)
        changed = [t for t in sorted(self.tickets, key=lambda t: (t["updated_at"], t["id"]))
                   if datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")).timestamp() >= start]
        page = changed[offset:offset + size]
        end = offset + size >= len(changed)
        body: dict[str, Any] = {"tickets": page, "end_of_stream": end, "before_cursor": None, "before_url": None}
        if "metric_sets" in q.get("include", ""):
            ids = {t["id"] for t in page}
            body["metric_sets"] = [m for m in self.metric_sets if m["ticket_id"] in ids]
        cursor = self._cursor(start, offset + size)
        body["after_cursor"] = cursor
        # Like Zendesk, the next URL carries the cursor and the sideloads, not the start time.
        body["after_url"] = f"{self.base_url}{TICKETS}?cursor={cursor}&include={q.get('include', '')}&per_page={size}"
        return web.json_response(body)

    async def satisfaction_ratings(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        q = request.query
        size = min(int(q.get("page[size]", self.page_size)), self.page_size)
        offset = self._decode(q["page[after]"])[1] if "page[after]" in q else 0
        start = int(q.get("start_time", 0))
        end = int(q.get("end_time", 2**40))
        listed = [r for r in sorted(self.ratings, key=lambda r: (r["created_at"], r["id"]))
                  if start <= datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).timestamp() < end]
        page = listed[offset:offset + size]
        more = offset + size < len(listed)
        after = self._cursor(0, offset + size)
        query = f"start_time={start}&end_time={end}&page[size]={size}&page[after]={after}"
        return web.json_response({
            "satisfaction_ratings": page,
            "meta": {"has_more": more, "after_cursor": after if more else None, "before_cursor": None},
            "links": {"next": f"{self.base_url}{RATINGS}?{query}" if more else None, "prev": None},
        })

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(TICKETS, self.incremental_tickets)
        app.router.add_get(RATINGS, self.satisfaction_ratings)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
