"""The Zendesk connector over real HTTP against a local fake: pages, retries, Retry-After, give-up."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from adapters.cli import main
from bot.connectors.base import ConnectorError, RetryPolicy, parse_retry_after
from bot.connectors.zendesk import (
    RATINGS_PATH,
    TICKETS_PATH,
    ZendeskConnector,
    ZendeskMapping,
    ZendeskRoute,
)
from bot.services.pull import partner_timezones, pull_into
from bot.store.measurements import sum_parts
from tests.fakes.zendesk_api import FakeZendesk, Fault

BERLIN_16 = datetime(2026, 11, 15, 23, tzinfo=UTC)  # 2026-11-16 00:00 in Europe/Berlin
UNTIL = datetime(2026, 11, 18, 12, tzinfo=UTC)
MAPPING = ZendeskMapping((ZendeskRoute("acme", "krakow", group_id=111), ZendeskRoute("acme", "lisbon", group_id=222)))


def ticket(tid: int, group: int, created: str, *, via: str = "email", updated: str | None = None,
           status: str = "open") -> dict:
    return {"id": tid, "group_id": group, "brand_id": 9, "status": status, "via": {"channel": via},
            "created_at": created, "updated_at": updated or created}


def metrics(tid: int, created: str, reply: int | None, resolution: int | None = None,
            solved: str | None = None) -> dict:
    return {"id": 1000 + tid, "ticket_id": tid, "created_at": created, "solved_at": solved,
            "reply_time_in_minutes": {"calendar": reply, "business": None},
            "full_resolution_time_in_minutes": {"calendar": resolution, "business": None}}


def rating(rid: int, tid: int, score: str, created: str, group: int = 111) -> dict:
    return {"id": rid, "ticket_id": tid, "group_id": group, "score": score, "created_at": created,
            "updated_at": created}


def world() -> FakeZendesk:
    """Eight tickets and seven ratings around 16-17 Nov 2026 (Berlin is UTC+1)."""
    return FakeZendesk(
        tickets=[
            ticket(1, 111, "2026-11-16T08:00:00Z", updated="2026-11-16T12:00:00Z"),
            ticket(2, 111, "2026-11-16T23:30:00Z", updated="2026-11-17T10:00:00Z"),  # 17 Nov 00:30 in Berlin
            ticket(3, 111, "2026-11-16T09:00:00Z", via="chat"),
            ticket(4, 222, "2026-11-17T08:00:00Z", updated="2026-11-17T13:00:00Z"),
            ticket(5, 333, "2026-11-16T10:00:00Z"),  # a group no route claims
            ticket(6, 111, "2026-11-14T08:00:00Z", updated="2026-11-16T09:00:00Z"),  # created before --since
            ticket(7, 111, "2026-11-16T11:00:00Z", status="deleted"),
            ticket(8, 111, "2026-11-09T08:00:00Z", updated="2026-11-10T08:00:00Z"),  # unchanged: not exported
        ],
        metric_sets=[
            metrics(1, "2026-11-16T08:00:00Z", 30, 120, "2026-11-16T10:00:00Z"),
            metrics(2, "2026-11-16T23:30:00Z", 90, 600, "2026-11-17T09:30:00Z"),
            metrics(3, "2026-11-16T09:00:00Z", 2),
            metrics(4, "2026-11-17T08:00:00Z", 60, 240, "2026-11-17T12:00:00Z"),
            metrics(5, "2026-11-16T10:00:00Z", 10),
            metrics(6, "2026-11-14T08:00:00Z", 100, 2940, "2026-11-16T09:00:00Z"),
            metrics(7, "2026-11-16T11:00:00Z", 5),
        ],
        ratings=[
            rating(1, 1, "good", "2026-11-16T12:00:00Z"),
            rating(2, 2, "bad", "2026-11-17T10:00:00Z"),
            rating(3, 4, "good_with_comment", "2026-11-17T13:00:00Z", group=222),
            rating(4, 1, "offered", "2026-11-16T11:00:00Z"),
            rating(5, 5, "good", "2026-11-16T12:00:00Z", group=333),
            rating(6, 99, "good", "2026-11-17T14:00:00Z", group=222),  # ticket not exported: mapped by group
            rating(7, 1, "bad", "2026-11-15T10:00:00Z"),  # before --since: not listed
        ],
    )


EXPECTED = [
    ("zendesk acme/krakow/chat 2026-11-16", {"first_response_seconds": 120, "tickets": 1}),
    ("zendesk acme/krakow/email 2026-11-16", {"first_response_seconds": 1800, "tickets": 1,
                                              "resolution_seconds": 7200 + 176400, "resolved": 2,
                                              "csat_positive": 1, "csat_responses": 1}),
    ("zendesk acme/krakow/email 2026-11-17", {"first_response_seconds": 5400, "tickets": 1,
                                              "resolution_seconds": 36000, "resolved": 1,
                                              "csat_positive": 0, "csat_responses": 1}),
    ("zendesk acme/lisbon/email 2026-11-17", {"first_response_seconds": 3600, "tickets": 1,
                                              "resolution_seconds": 14400, "resolved": 1,
                                              "csat_positive": 2, "csat_responses": 2}),
]


class RecordingSleep:
    """The injected sleeper: remembers every wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def fake():
    zd = world()
    await zd.start()
    yield zd
    await zd.close()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def make_connector(fake, sleep, clock):
    """Build a connector on the fake: ``make_connector(attempts=3, timeout=0.2, token="x")``."""
    made: list[ZendeskConnector] = []

    def make(*, attempts: int = 4, timeout: float = 5.0, token: str | None = None) -> ZendeskConnector:
        conn = ZendeskConnector(base_url=fake.base_url, email=fake.email, token=token or fake.token,
                                mapping=MAPPING, timezones={"acme": "Europe/Berlin"}, page_size=2,
                                timeout=timeout, retry=RetryPolicy(attempts=attempts, base_delay=1.0),
                                sleep=sleep, clock=clock, rng=random.Random(7))
        made.append(conn)
        return conn

    yield make
    for conn in made:
        await conn.aclose()


def summary(result) -> list[tuple[str, dict]]:  # noqa: ANN001
    keep = ("first_response_seconds", "tickets", "resolution_seconds", "resolved", "csat_positive", "csat_responses")
    return [(r.where, {k: r.values[k] for k in keep if k in r.values}) for r in result.records]


async def test_zendesk_pull_follows_every_page_and_sums_local_days(make_connector, fake):
    async with make_connector() as conn:
        result = await conn.pull(since=BERLIN_16, until=UNTIL)
    assert summary(result) == EXPECTED
    assert {r.values["interval_start"] for r in result.records} == {"2026-11-16T00:00:00+01:00",
                                                                    "2026-11-17T00:00:00+01:00"}
    assert {r.values["interval_minutes"] for r in result.records} == {1440}
    assert result.fetched == {"tickets": 7, "ratings": 6}
    assert result.skipped == {"ticket of an unmapped group or brand": 1, "deleted ticket": 1,
                              "outside the period": 1, "rating of an unmapped ticket": 1}
    tickets = fake.requests_to(TICKETS_PATH)
    assert len(tickets) == 4  # 7 tickets, 2 a page
    assert tickets[0].query["start_time"] == str(int(BERLIN_16.timestamp()))
    assert tickets[0].query["include"] == "metric_sets"
    assert all("cursor" in t.query for t in tickets[1:])
    assert len({t.query.get("cursor") for t in tickets[1:]}) == 3  # each page its own cursor
    ratings = fake.requests_to(RATINGS_PATH)
    assert len(ratings) == 3 and [r.query.get("page[after]") is None for r in ratings] == [True, False, False]


async def test_zendesk_pull_into_db_gives_frt_resolution_csat_and_repull_changes_nothing(core, make_partner,
                                                                                       make_connector, clock):
    acme = await make_partner("acme", tz="Europe/Berlin", sites=("krakow", "lisbon"))
    clock.set(UNTIL)
    assert await partner_timezones(core) == {"acme": "Europe/Berlin"}
    async with make_connector() as conn:
        result, report = await pull_into(core, conn, since=BERLIN_16)
        assert report.ok and report.rows == 4
        assert report.created == 4 + 3 * 2  # frt on every row; resolution and csat on three
        _, again = await pull_into(core, conn, since=BERLIN_16)
    assert (again.created, again.changed, again.unchanged) == (0, 0, report.created)
    async with core.db.session() as s:
        sums = await sum_parts(s, partner_ids=[acme.id], metrics=["first_response_time", "resolution_time", "csat"],
                               start=BERLIN_16, end=BERLIN_16 + timedelta(days=7))
    assert sums[(acme.id, "first_response_time")].value == pytest.approx((120 + 1800 + 5400 + 3600) / 4)
    assert sums[(acme.id, "resolution_time")].value == pytest.approx((183600 + 36000 + 14400) / 4)
    assert sums[(acme.id, "csat")].value == pytest.approx(100 * 3 / 4)


async def test_zendesk_429_waits_exactly_the_retry_after_seconds(make_connector, fake, sleep):
    fake.script(TICKETS_PATH, Fault(429, retry_after="7"))
    fake.script(RATINGS_PATH, Fault(200), Fault(429, retry_after="3"))  # the second ratings page
    async with make_connector() as conn:
        result = await conn.pull(since=BERLIN_16, until=UNTIL)
    assert sleep.waits == [7.0, 3.0]
    assert summary(result) == EXPECTED


async def test_zendesk_retry_after_as_http_date_is_measured_on_the_injected_clock(make_connector, fake, sleep, clock):
    fake.script(TICKETS_PATH, Fault(503, retry_after=format_datetime(clock.now() + timedelta(seconds=30),
                                                                     usegmt=True)))
    async with make_connector() as conn:
        await conn.pull(since=BERLIN_16, until=UNTIL)
    assert sleep.waits == [30.0]


async def test_zendesk_5xx_retried_with_growing_jittered_backoff(make_connector, fake, sleep):
    fake.script(TICKETS_PATH, Fault(500), Fault(502), Fault(503))
    async with make_connector() as conn:
        result = await conn.pull(since=BERLIN_16, until=UNTIL)
    assert summary(result) == EXPECTED
    assert len(sleep.waits) == 3
    for retry, wait in enumerate(sleep.waits, start=1):
        ceiling = 2 ** (retry - 1)  # base 1 s, doubling; half of it jittered
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(sleep.waits)) == 3


async def test_zendesk_slow_reply_times_out_and_is_retried(make_connector, fake, sleep):
    fake.script(TICKETS_PATH, Fault(delay=0.6))
    async with make_connector(timeout=0.15) as conn:
        result = await conn.pull(since=BERLIN_16, until=UNTIL)
    assert summary(result) == EXPECTED
    assert len(sleep.waits) == 1 and 0.5 <= sleep.waits[0] <= 1.0


async def test_zendesk_gives_up_after_n_attempts_with_a_clear_error(make_connector, fake, sleep):
    fake.script(RATINGS_PATH, *[Fault(503)] * 3)
    async with make_connector(attempts=3) as conn:
        with pytest.raises(ConnectorError) as caught:
            await conn.pull(since=BERLIN_16, until=UNTIL)
    assert str(caught.value) == (f"Zendesk: GET {RATINGS_PATH} failed 3 times; last: HTTP 503. "
                                 f"Nothing was written; try again later")
    assert len(sleep.waits) == 2 and len(fake.requests_to(RATINGS_PATH)) == 3


async def test_zendesk_wrong_token_fails_at_once_without_retrying(make_connector, fake, sleep):
    async with make_connector(token="stale") as conn:
        with pytest.raises(ConnectorError, match="refused the credentials \\(HTTP 401\\)"):
            await conn.pull(since=BERLIN_16, until=UNTIL)
    assert sleep.waits == [] and len(fake.seen) == 1


async def test_zendesk_retry_after_beyond_the_cap_gives_up_instead_of_sleeping(make_connector, fake, sleep):
    fake.script(TICKETS_PATH, Fault(429, retry_after="3600"))
    async with make_connector() as conn:
        with pytest.raises(ConnectorError, match="asked to wait 3600 s"):
            await conn.pull(since=BERLIN_16, until=UNTIL)
    assert sleep.waits == []


def test_zendesk_mapping_most_specific_route_wins_and_unmapped_is_none():
    mapping = ZendeskMapping((ZendeskRoute("acme"), ZendeskRoute("acme", "lisbon", group_id=2),
                              ZendeskRoute("acme", "krakow", group_id=2, brand_id=9, channel="voice")))
    assert mapping.resolve(group_id=2, brand_id=9, via="email") == ("acme", "krakow", "voice")
    assert mapping.resolve(group_id=2, brand_id=1, via="twitter") == ("acme", "lisbon", "social")
    assert mapping.resolve(group_id=5, brand_id=None, via="something-new") == ("acme", "", "email")
    assert ZendeskMapping((ZendeskRoute("acme", group_id=2),)).resolve(group_id=3, brand_id=None, via=None) is None


def test_parse_retry_after_reads_seconds_and_dates():
    now = datetime(2026, 11, 16, 10, tzinfo=UTC)
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after("Mon, 16 Nov 2026 10:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Mon, 16 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None and parse_retry_after(None, now=now) is None


async def _run(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


async def test_pull_cli_ingests_dry_runs_and_reports_clear_errors(core, make_partner, fake, monkeypatch, capsys):
    await make_partner("acme", tz="Europe/Berlin", sites=("krakow", "lisbon"))
    monkeypatch.setenv("LIAISON_DATABASE_URL", core.db.url)
    monkeypatch.setenv("ZD_TOKEN", fake.token)
    argv = ["pull", "zendesk", "--base-url", fake.base_url, "--email", fake.email, "--token-env", "ZD_TOKEN",
            "--since", "2026-11-16", "--until", "2026-11-18", "--partner", "acme",
            "--group", "111=krakow", "--group", "222=lisbon"]
    assert await _run([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "zendesk: 7 tickets and 6 ratings fetched; 4 day rows" in out
    assert "skipped 1: deleted ticket" in out
    assert "10 new, 0 changed, 0 unchanged would be stored" in out
    assert await _run(argv) == 0
    assert "10 new, 0 changed, 0 unchanged were stored" in capsys.readouterr().out
    assert await _run(argv) == 0
    assert "0 new, 0 changed, 10 unchanged were stored" in capsys.readouterr().out

    monkeypatch.delenv("ZD_TOKEN")
    assert await _run(argv) == 1
    assert "ZD_TOKEN is not set" in capsys.readouterr().out
    monkeypatch.setenv("ZD_TOKEN", "stale")
    assert await _run(argv) == 1
    assert "refused the credentials" in capsys.readouterr().out
    monkeypatch.setenv("ZD_TOKEN", fake.token)
    assert await _run([*argv[:-4], "--group", "111=warsaw"]) == 1
    assert "site 'warsaw' is not a site of acme" in capsys.readouterr().out
    assert await _run([a if a != "acme" else "acmee" for a in argv]) == 1
    assert "unknown partner 'acmee' (known: acme)" in capsys.readouterr().out
