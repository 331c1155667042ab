"""The helpdesk connector interface: an httpx client that retries politely and walks pages.

A connector pulls a helpdesk's ticket data and turns it into the same raw records a CSV
export would give (`bot.ingest.rows.RawRecord`), so pulled data passes the same validation
and the same all-or-nothing upsert as a file.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from bot.ingest.rows import RawRecord
from bot.ports import Clock, SystemClock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class ConnectorError(Exception):
    """A pull failed in a way the user must act on; the message says what and what to do."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429s, 5xx answers, timeouts and dropped connections."""

    attempts: int = 5  # tries per request, the first one included
    base_delay: float = 1.0
    max_delay: float = 60.0
    # A Retry-After longer than this means "come back much later": give up and say so.
    max_retry_after: float = 900.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Return the wait before retry number ``retry`` (1-based): exponential, half of it jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        # Equal jitter: never less than half the ceiling, so a busy API really gets a pause,
        # yet many clients retrying at once spread out.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return the seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


class Pagination(Protocol):
    """Where the next page is, read from the current page's body; None on the last page."""

    def next_url(self, body: Mapping[str, Any]) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PullResult:
    """What a pull produced: records to ingest, and counts that explain what was left out."""

    records: list[RawRecord]
    fetched: dict[str, int] = field(default_factory=dict)  # "tickets": 240, "ratings": 51
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> how many items


class Connector(Protocol):
    """A helpdesk API that yields per-partner interval records for [since, until)."""

    name: str

    async def pull(self, *, since: datetime, until: datetime) -> PullResult: ...


class ApiClient:
    """An async JSON client: timeouts on every call, retries with backoff, Retry-After honoured.

    ``sleep`` and ``clock`` are injected so tests run retries without waiting.
    """

    def __init__(self, *, base_url: str, auth: httpx.Auth | tuple[str, str] | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None, sleep: Sleep = asyncio.sleep,
                 clock: Clock | None = None, rng: random.Random | None = None, name: str = "the API") -> None:
        self.name = name
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=httpx.Timeout(timeout),
                                       headers={"Accept": "application/json", "User-Agent": "liaison"})

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object, retrying what is worth retrying; raise ConnectorError otherwise."""
        shown = httpx.URL(url).path or url
        reason = ""
        for attempt in range(1, self.retry.attempts + 1):
            delay: float | None = None
            try:
                resp = await self._http.get(url, params=params)
            except httpx.TimeoutException:
                reason = f"no answer within {self._timeout:g} s"
            except httpx.TransportError as exc:
                reason = f"connection failed ({exc.__class__.__name__})"
            else:
                if resp.status_code < 400:
                    return self._json(resp, shown)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), now=self._clock.now())
                if resp.status_code == 429 or resp.status_code >= 500:
                    reason = f"HTTP {resp.status_code}" + (" (rate limited)" if resp.status_code == 429 else "")
                    delay = retry_after
                    if delay is not None and delay > self.retry.max_retry_after:
                        raise ConnectorError(
                            f"{self.name} asked to wait {delay:.0f} s before the next request to {shown} "
                            f"(HTTP {resp.status_code}); run the pull again after that")
                else:
                    raise ConnectorError(self._refusal(resp, shown))
            if attempt == self.retry.attempts:
                break
            if delay is None:
                delay = self.retry.backoff(attempt, self._rng)
            log.warning("%s: GET %s: %s; retry %d of %d in %.1f s", self.name, shown, reason, attempt,
                        self.retry.attempts - 1, delay)
            await self._sleep(delay)
        raise ConnectorError(f"{self.name}: GET {shown} failed {self.retry.attempts} times; last: {reason}. "
                             f"Nothing was written; try again later")

    def _json(self, resp: httpx.Response, shown: str) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError as exc:
            raise ConnectorError(f"{self.name}: GET {shown} answered {resp.status_code} but not JSON") from exc
        if not isinstance(body, dict):
            raise ConnectorError(f"{self.name}: GET {shown} answered JSON that is not an object")
        return body

    def _refusal(self, resp: httpx.Response, shown: str) -> str:
        if resp.status_code in (401, 403):
            return (f"{self.name} refused the credentials (HTTP {resp.status_code}) for GET {shown}; "
                    f"check the email and API token, and that the token is active")
        if resp.status_code == 404:
            return f"{self.name}: GET {shown} is not found (HTTP 404); check the subdomain or base URL"
        return f"{self.name}: GET {shown} answered HTTP {resp.status_code}: {resp.text[:200]}"

    async def pages(self, url: str, *, params: Mapping[str, Any] | None, pagination: Pagination,
                    max_pages: int = 10_000) -> AsyncIterator[dict[str, Any]]:
        """Yield each page's body, following ``pagination`` until it says there is no next page."""
        seen: set[str] = set()
        next_url: str | None = url
        next_params = params
        for _ in range(max_pages):
            if next_url is None:
                return
            body = await self.get_json(next_url, params=next_params)
            yield body
            nxt = pagination.next_url(body)
            if nxt is not None and nxt in seen:
                # A cursor that points back to a page already read would loop forever.
                raise ConnectorError(f"{self.name} returned the same next page twice ({httpx.URL(nxt).path}); "
                                     f"stopping instead of looping")
            if nxt is not None:
                seen.add(nxt)
            next_url, next_params = nxt, None
        raise ConnectorError(f"{self.name}: more than {max_pages} pages; pull a shorter period with --since")
