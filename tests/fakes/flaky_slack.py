"""A fake Slack Web API (aiohttp, loopback) that fails on purpose: 429s, 500s and timeouts.

It records every call with its arrival time (``time.monotonic``) so tests can measure that
Retry-After was honoured, and every *accepted* post (never de-duplicated: a repeat shows twice),
so a test can count deliveries and duplicates per message. It answers conversations.history
and .replies with the posts' metadata, as Slack does. Runs in-process (``start()``) or as its
own process (``python -m tests.fakes.flaky_slack PORT LOGFILE [FAULT_RATE [KINDS [DELAY]]]``)
for the kill-and-restart tests.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.slack_api import history, metadata_of


@dataclass
class Call:
    method: str
    at: float
    outcome: str  # ok | 429 | 500 | timeout
    text: str
    channel: str


@dataclass
class FlakySlack:
    """Answer a ``fault_rate`` share of calls with 429 (Retry-After), 500 or a hang."""

    fault_rate: float = 1 / 3
    retry_after: int = 1
    hang_seconds: float = 5.0
    seed: int = 1
    log_path: str | None = None  # append accepted posts as JSON lines (survives our process)
    kinds: tuple[str, ...] = ("429", "500", "timeout")  # which faults to inject
    # Answer every call this long after taking it (a slow platform): the post is already shown.
    answer_delay: float = 0.0
    # Draw each channel's faults from its own seeded sequence: a channel meets the same faults in
    # every run however the channels interleave, so a run (and its backoffs) is reproducible.
    per_channel: bool = False
    calls: list[Call] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)
    _ts: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._rngs: dict[str, random.Random] = {}

    def _roll(self, channel: str) -> float:
        if not self.per_channel:
            return self._rng.random()
        rng = self._rngs.setdefault(channel, random.Random(f"{self.seed}:{channel}"))
        return rng.random()

    async def _payload(self, request: web.Request) -> dict:
        if request.method == "GET":
            return dict(request.query)
        if request.content_type == "application/json":
            return await request.json()
        return {**dict(request.query), **dict(await request.post())}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        data = await self._payload(request)
        text, channel = str(data.get("text", "")), str(data.get("channel", ""))
        now = time.monotonic()
        if method in ("auth.test",):
            return web.json_response({"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"})
        roll = self._roll(channel)
        if roll < self.fault_rate:
            kind = self.kinds[int(roll / self.fault_rate * len(self.kinds)) % len(self.kinds)]
            self.calls.append(Call(method, now, kind, text, channel))
            if kind == "429":
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(self.retry_after)})
            if kind == "500":
                return web.json_response({"ok": False, "error": "internal_error"}, status=500)
            await asyncio.sleep(self.hang_seconds)  # the client times out first
            return web.json_response({"ok": False, "error": "timeout"}, status=504)
        self.calls.append(Call(method, now, "ok", text, channel))
        if method in ("conversations.history", "conversations.replies"):
            posted = [a for a in self.accepted if a["method"] == "chat.postMessage" and a["channel"] == channel]
            if self.log_path:  # lookups are logged too: a test can show they happened
                _append_line(self.log_path, json.dumps({"method": method, "channel": channel, "at": now}))
            return web.json_response({"ok": True, "messages": history(posted, data, method), "has_more": False})
        # every post is shown and logged, repeats included: tests count duplicates, the fake hides none
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        record = {"method": method, "channel": channel, "text": text, "ts": ts,
                  "thread_ts": data.get("thread_ts"), "at": now, "posted": time.time(),
                  "metadata": metadata_of(data.get("metadata"))}
        self.accepted.append(record)
        if self.log_path:
            _append_line(self.log_path, json.dumps(record))
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return web.json_response({"ok": True, "channel": channel or "C1", "ts": str(data.get("ts") or ts),
                                  "message": {"text": text, "ts": ts}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self.handle)
        app.router.add_get("/api/{method}", self.handle)  # slack_sdk reads history with GET
        return app

    async def start(self, port: int = 0) -> tuple[web.AppRunner, str]:
        runner = web.AppRunner(self.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        real_port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes no port getter
        return runner, f"http://127.0.0.1:{real_port}/api/"

    def retry_after_violations(self) -> list[tuple[str, str, float]]:
        """Return (method, channel, seconds early) for calls made during a 429's Retry-After.

        Like Slack's chat.postMessage limit, a 429 holds for one method on one channel.
        """
        bad = []
        blocked: dict[tuple[str, str], float] = {}
        for call in self.calls:
            until = blocked.get((call.method, call.channel))
            if until is not None and call.at < until - 0.05:
                bad.append((call.method, call.channel, until - call.at))
            if call.outcome == "429":
                blocked[(call.method, call.channel)] = call.at + self.retry_after
        return bad


def _append_line(path: str, line: str) -> None:
    # tiny local append; a crash of the bot process must not lose what the fake accepted
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def _main(port: int, log_path: str, fault_rate: float, kinds: tuple[str, ...], answer_delay: float) -> None:
    fake = FlakySlack(fault_rate=fault_rate, log_path=log_path, hang_seconds=3.0, kinds=kinds,
                      answer_delay=answer_delay)
    runner, url = await fake.start(port)
    print(url, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 1 / 3,
                      tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else ("429", "500", "timeout"),
                      float(sys.argv[5]) if len(sys.argv) > 5 else 0.0))
