"""Zendesk Support: ticket metrics and satisfaction ratings -> daily first response, resolution time, CSAT.

Two endpoints, both cursor-paginated:
- ``/api/v2/incremental/tickets/cursor.json?start_time=..&include=metric_sets``: every ticket
  changed since ``start_time`` with its metric set (reply and full resolution time in calendar
  minutes). First response is counted on the local day the ticket was created, resolution on
  the local day it was solved.
- ``/api/v2/satisfaction_ratings?start_time=..&page[size]=..``: good/bad ratings, counted on
  the local day they were given.

A day before ``since`` is never emitted: the export only holds tickets changed since then, so
such a day would be partial and would overwrite a complete stored value.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.connectors.base import ApiClient, PullResult, RetryPolicy, Sleep
from bot.ingest.rows import RawRecord
from bot.ports import Clock

TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
RATINGS_PATH = "/api/v2/satisfaction_ratings"

# Zendesk's ticket.via.channel -> our contact channel; anything else is treated as email.
VIA_CHANNELS: dict[str, str] = {
    "voice": "voice", "phone": "voice",
    "chat": "chat", "native_messaging": "chat", "messaging": "chat", "sms": "chat", "web_widget": "chat",
    "twitter": "social", "facebook": "social", "instagram_dm": "social", "whatsapp": "social",
    "line": "social", "wechat": "social",
    "email": "email", "web": "email", "api": "email", "mobile": "email", "mobile_sdk": "email",
}


@dataclass(frozen=True, slots=True)
class ZendeskRoute:
    """Tickets of a group and/or brand belong to this partner (and site); unset ids match anything."""

    partner: str
    site: str = ""
    group_id: int | None = None
    brand_id: int | None = None
    channel: str | None = None  # force a channel instead of reading ticket.via.channel

    @property
    def specificity(self) -> int:
        return (self.group_id is not None) + (self.brand_id is not None)

    def matches(self, group_id: int | None, brand_id: int | None) -> bool:
        return ((self.group_id is None or self.group_id == group_id)
                and (self.brand_id is None or self.brand_id == brand_id))


@dataclass(frozen=True, slots=True)
class ZendeskMapping:
    """Which partner/site/channel a ticket counts for; the most specific matching route wins."""

    routes: tuple[ZendeskRoute, ...]

    def resolve(self, *, group_id: int | None, brand_id: int | None, via: str | None) -> tuple[str, str, str] | None:
        """Return (partner, site, channel) for a ticket, or None when no route claims it."""
        for route in sorted(self.routes, key=lambda r: -r.specificity):
            if route.matches(group_id, brand_id):
                return route.partner, route.site, route.channel or VIA_CHANNELS.get(via or "", "email")
        return None


@dataclass(frozen=True, slots=True)
class _Ticket:
    id: int
    scope: tuple[str, str, str] | None
    created_at: datetime | None


class IncrementalCursor:
    """Incremental export pages: follow ``after_url`` until ``end_of_stream``."""

    def next_url(self, body: Mapping[str, Any]) -> str | None:
        if body.get("end_of_stream", True):
            return None
        return body.get("after_url") or None


class LinksNext:
    """Cursor-paginated list pages: follow ``links.next`` while ``meta.has_more``."""

    def next_url(self, body: Mapping[str, Any]) -> str | None:
        if not (body.get("meta") or {}).get("has_more"):
            return None
        return (body.get("links") or {}).get("next") or None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _minutes(block: object) -> float | None:
    """Read the calendar minutes of a metric block such as ``{"calendar": 12, "business": 5}``."""
    if isinstance(block, Mapping):
        value = block.get("calendar")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


@dataclass
class _Buckets:
    """Daily sums per (partner, site, channel, local day)."""

    timezones: Mapping[str, str]
    since: datetime
    until: datetime
    sums: dict[tuple[str, str, str, date], dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, scope: tuple[str, str, str], moment: datetime, parts: Mapping[str, float]) -> None:
        if not self.since <= moment < self.until:
            self.skipped["outside the period"] += 1
            return
        partner, site, channel = scope
        tz = self.timezones.get(partner)
        if tz is None:
            self.skipped[f"partner {partner} not in the database"] += 1
            return
        day = moment.astimezone(ZoneInfo(tz)).date()
        if datetime.combine(day, time(), ZoneInfo(tz)) < self.since:
            # the local day began before `since`: this export holds only part of it
            self.skipped["outside the period"] += 1
            return
        bucket = self.sums[(partner, site, channel, day)]
        for key, value in parts.items():
            bucket[key] += value

    def records(self) -> list[RawRecord]:
        out = []
        for (partner, site, channel, day), parts in sorted(self.sums.items()):
            start = datetime.combine(day, time(), ZoneInfo(self.timezones[partner]))
            values: dict[str, Any] = {"partner": partner, "site": site, "channel": channel,
                                      "interval_start": start.isoformat(), "interval_minutes": 1440, **parts}
            out.append(RawRecord(f"zendesk {partner}/{site or '-'}/{channel} {day.isoformat()}", values))
        return out


class ZendeskConnector:
    """Pull first response time, resolution time and CSAT per partner/site/channel and day."""

    name = "zendesk"

    def __init__(self, *, base_url: str, email: str, token: str, mapping: ZendeskMapping,
                 timezones: Mapping[str, str], page_size: int = 1000, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, sleep: Sleep | None = None, clock: Clock | None = None,
                 rng: random.Random | None = None) -> None:
        self.mapping = mapping
        self.timezones = timezones
        self.page_size = page_size
        extra = {"sleep": sleep} if sleep is not None else {}
        # Zendesk API tokens authenticate as "{email}/token" with the token as the password.
        self.client = ApiClient(base_url=base_url.rstrip("/"), auth=(f"{email}/token", token), timeout=timeout,
                                retry=retry, clock=clock, rng=rng, name="Zendesk", **extra)

    @staticmethod
    def base_url_for(subdomain: str) -> str:
        return f"https://{subdomain}.zendesk.com"

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> ZendeskConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def pull(self, *, since: datetime, until: datetime) -> PullResult:
        """Fetch tickets and ratings changed since ``since``; return daily records up to ``until``."""
        buckets = _Buckets(self.timezones, since, until)
        tickets: dict[int, _Ticket] = {}
        fetched = {"tickets": 0, "ratings": 0}
        params = {"start_time": int(since.timestamp()), "include": "metric_sets", "per_page": self.page_size}
        async for page in self.client.pages(TICKETS_PATH, params=params, pagination=IncrementalCursor()):
            fetched["tickets"] += len(page.get("tickets") or [])
            for ticket in self._tickets(page.get("tickets") or (), buckets):
                tickets[ticket.id] = ticket
            self._metric_sets(page.get("metric_sets") or (), tickets, buckets)
        params = {"start_time": int(since.timestamp()), "end_time": int(until.timestamp()),
                  "page[size]": min(self.page_size, 100), "sort": "created_at"}
        async for page in self.client.pages(RATINGS_PATH, params=params, pagination=LinksNext()):
            ratings = page.get("satisfaction_ratings") or []
            fetched["ratings"] += len(ratings)
            self._ratings(ratings, tickets, buckets)
        return PullResult(buckets.records(), fetched, dict(buckets.skipped))

    def _tickets(self, items: Iterable[Any], buckets: _Buckets) -> Iterable[_Ticket]:
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
                buckets.skipped["malformed ticket"] += 1
                continue
            if item.get("status") == "deleted":
                buckets.skipped["deleted ticket"] += 1
                continue
            via = item.get("via") if isinstance(item.get("via"), Mapping) else {}
            scope = self.mapping.resolve(group_id=item.get("group_id"), brand_id=item.get("brand_id"),
                                         via=via.get("channel"))
            if scope is None:
                buckets.skipped["ticket of an unmapped group or brand"] += 1
            yield _Ticket(item["id"], scope, _time(item.get("created_at")))

    @staticmethod
    def _metric_sets(items: Iterable[Any], tickets: Mapping[int, _Ticket], buckets: _Buckets) -> None:
        for item in items:
            ticket = tickets.get(item.get("ticket_id")) if isinstance(item, Mapping) else None
            if ticket is None or ticket.scope is None:
                continue  # deleted, unmapped or never listed: already counted as skipped
            reply = _minutes(item.get("reply_time_in_minutes"))
            created = _time(item.get("created_at")) or ticket.created_at
            if reply is not None and created is not None:
                buckets.add(ticket.scope, created, {"first_response_seconds": reply * 60, "tickets": 1})
            resolution = _minutes(item.get("full_resolution_time_in_minutes"))
            solved = _time(item.get("solved_at"))
            if resolution is not None and solved is not None:
                buckets.add(ticket.scope, solved, {"resolution_seconds": resolution * 60, "resolved": 1})

    def _ratings(self, items: Iterable[Any], tickets: Mapping[int, _Ticket], buckets: _Buckets) -> None:
        for item in items:
            if not isinstance(item, Mapping):
                buckets.skipped["malformed rating"] += 1
                continue
            score = str(item.get("score") or "")
            if not score.startswith(("good", "bad")):
                continue  # "offered"/"unoffered": a survey sent or not, not an answer
            ticket = tickets.get(item.get("ticket_id"))
            scope = ticket.scope if ticket is not None else \
                self.mapping.resolve(group_id=item.get("group_id"), brand_id=None, via=None)
            moment = _time(item.get("created_at"))
            if scope is None or moment is None:
                buckets.skipped["rating of an unmapped ticket"] += 1
                continue
            buckets.add(scope, moment, {"csat_positive": 1.0 if score.startswith("good") else 0.0,
                                        "csat_responses": 1})
