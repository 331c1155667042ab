"""A minimal Slack-Web-API ChatGateway over aiohttp, for fault-injection tests of the outbox.

Used only while exercising delivery against tests/fakes/flaky_slack.py: it maps HTTP
outcomes to DeliveryError the way a platform gateway must (429 -> retry_after, 5xx and
timeouts -> retryable, other Slack errors -> not retryable).
"""

from __future__ import annotations

import aiohttp

from bot.messages import Message
from bot.ports import DeliveryError, PostResult


class HttpSlackGateway:
    platform = "slack"

    def __init__(self, base_url: str, *, timeout: float = 0.5) -> None:
        self.base_url = base_url
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _call(self, method: str, body: dict) -> dict:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                    http.post(self.base_url + method, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status == 429:
                    raise DeliveryError("ratelimited", retryable=True,
                                        retry_after=float(resp.headers.get("Retry-After", "1")))
                if resp.status >= 500:
                    raise DeliveryError(f"HTTP {resp.status}", retryable=True)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"{type(exc).__name__}", retryable=True) from exc
        if not data.get("ok"):
            raise DeliveryError(str(data.get("error")), retryable=False)
        return data

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        body = {"channel": destination, "text": message.text}
        if thread_ref:
            body["thread_ts"] = thread_ref.split(":", 1)[1]
        data = await self._call("chat.postMessage", body)
        return PostResult(ref=f"{data['channel']}:{data['ts']}")

    async def update(self, ref: str, message: Message) -> None:
        channel, ts = ref.split(":", 1)
        await self._call("chat.update", {"channel": channel, "ts": ts, "text": message.text})

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        return await self.post(user_id, message)
