"""Every measure beside its floor, in one run: `measure | Liaison | floor | ratio`.

Each measure runs interleaved with a floor built for the same data (floor, Liaison, floor,
Liaison, ...), three rounds, and reports the medians. Floors:

- chart: bare matplotlib drawing the same panels (object API, a new figure each time);
- answers: one bare GROUP BY over the rows a portfolio `/kpi` reads;
- evaluation: one bare GROUP BY per (partner, channel, day) over the same year, or the new day;
- ingest: the same measurements inserted raw through the driver (executemany on SQLite, COPY on
  PostgreSQL), no parsing, no checks;
- outbox: a paced client (slack_sdk, one task per channel, the pace after each answer) against a
  fake Slack that allows 1 message a second per channel, and the theoretical minimum;
- slash: a bare Bolt AsyncApp on aiohttp (bench/bare_bolt.py) that acks and answers "ok", in its
  own process like `liaison serve`, with the same signed burst.

Not a test: nothing asserts. Shared machines are noisy: rerun and compare ratios, not seconds.

    python -m bench.bench_floors --url sqlite:////tmp/floors.db \
        --url postgresql://postgres@127.0.0.1:5432/test [--only chart,answers,evaluation,ingest,slash,outbox]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import delete, text

from bench.common import FixedClock, backend, fresh_schema

ROUNDS = 3
Row = tuple[str, float, float, str]  # measure, Liaison seconds, floor seconds, how it is shown


async def _interleaved(floor: Callable[[], Awaitable[float]], ours: Callable[[], Awaitable[float]],
                       rounds: int = ROUNDS) -> tuple[float, float]:
    """Run floor and Liaison alternately; return the medians (Liaison, floor)."""
    fs, ls = [], []
    for _ in range(rounds):
        fs.append(await floor())
        ls.append(await ours())
    return statistics.median(ls), statistics.median(fs)


def _timed(fn: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        t0 = time.perf_counter()
        await fn()
        return time.perf_counter() - t0
    return run


# --- chart --------------------------------------------------------------------------------------

def _bare_chart(weeks: list[str], series: list) -> bytes:  # noqa: ANN001
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3, squeeze=False)
    for ax in axes.flat[len(series):]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, series, strict=False):
        xs = [i for i, v in enumerate(s.values) if v is not None]
        ax.plot(xs, [s.values[i] for i in xs], marker="o", linewidth=1.5)
        ax.axhline(s.target, linestyle="--", color="grey", linewidth=1)
        ax.set_title(s.label, fontsize=9)
        ax.set_xticks(range(len(weeks)))
        ax.set_xticklabels([w[-3:] for w in weeks], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("title", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


async def chart_rows(_url: str) -> list[Row]:
    from bot.compose.chart import Series, trend_chart

    weeks = [f"2026-W{i:02d}" for i in range(40, 48)]
    series = [Series(name, tuple(80.0 + (i * 7 + k) % 5 for i in range(8)), 85.0)
              for k, name in enumerate(("CSAT", "NPS", "CES", "FCR", "AHT"))]
    _bare_chart(weeks, series)
    trend_chart(title="warm-up", weeks=weeks, series=series)

    async def floor() -> float:
        t0 = time.perf_counter()
        _bare_chart(weeks, series)
        return time.perf_counter() - t0

    async def ours() -> float:
        t0 = time.perf_counter()
        trend_chart(title="Acme weekly", weeks=weeks, series=series)
        return time.perf_counter() - t0

    ours_s, floor_s = await _interleaved(floor, ours, rounds=5)
    return [("digest chart (5 KPIs x 8 weeks, 900x600 PNG)", ours_s, floor_s, "ms")]


# --- the demo world (answers, slash) ------------------------------------------------------------

SECRET = "bench-signing-secret"
PORTFOLIO = ("service_level", "aht", "fcr", "csat", "nps")


async def _demo(url: str, schema: str) -> tuple[str, object]:
    from adapters.cli.demo import example_config_path, load_demo_data
    from bot.config.loader import load_config
    from bot.core import Core
    from bot.services.config_apply import apply_config
    from bot.services.evaluation import evaluate
    from bot.settings import Settings

    url = fresh_schema(url, schema)
    core = Core.from_settings(Settings(_env_file=None, database_url=url))
    await apply_config(core.db, load_config(example_config_path(None)))
    await load_demo_data(core, weeks=8, write=lambda _t: None)
    await evaluate(core)
    return url, core


async def _group_by(db, sql: str, params: dict | None = None) -> None:  # noqa: ANN001
    async with db.engine.connect() as conn:
        (await conn.execute(text(sql), params or {})).all()


async def answer_rows(url: str) -> list[Row]:
    from bot.commands import dispatch
    from bot.services.identity import resolve_actor

    url, core = await _demo(url, "bench_floors_answers")
    actor = await resolve_actor(core, platform="slack", platform_user_id="U0LEAD")
    since = core.clock.now() - timedelta(days=8 * 7 + 2)
    metrics = ", ".join(f"'{m}'" for m in PORTFOLIO)
    sql = (f"SELECT partner_id, metric, channel, sum(num), sum(den), sum(aux), count(*) FROM measurement "
           f"WHERE metric IN ({metrics}) AND period_start >= :since GROUP BY partner_id, metric, channel")
    since_param = {"since": since.replace(tzinfo=None)}
    rows = []
    for command in ("kpi", "sla"):
        await dispatch(core, text=command, actor=actor, platform="slack", channel="C0BENCH")

        async def ours(command: str = command) -> float:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                await dispatch(core, text=command, actor=actor, platform="slack", channel="C0BENCH")
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        async def floor() -> float:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                await _group_by(core.db, sql, since_param)
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        ours_s, floor_s = await _interleaved(floor, ours)
        rows.append((f"/{command} answer alone (portfolio, demo data)", ours_s, floor_s, "ms"))
    await core.db.dispose()
    return rows


# --- evaluation ---------------------------------------------------------------------------------

CHANNELS = ("voice", "chat", "email")


def _day_expr(url: str) -> str:
    return "date_trunc('day', period_start)" if url.startswith("postgres") else "substr(period_start, 1, 10)"


async def evaluation_rows(url: str, *, partners: int, days: int) -> list[Row]:
    from bot.core import Core
    from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
    from bot.demo.generator import generate
    from bot.services.evaluation import evaluate
    from bot.settings import Settings
    from bot.store.alerts import BreachEpisode, EvaluationMark, PreBreachWarning
    from bot.store.db import Database
    from bot.store.models import Target
    from bot.store.outbox import OutboxItem

    url = fresh_schema(url, "bench_floors_evaluation")
    db = Database(url)
    specs = synthetic_partners(partners, CHANNELS)
    ids = await seed_partners(db, specs)
    start = date(2025, 11, 1)
    await insert_rows(db, generate(partners=specs, start=start, days=days - 1, seed=7), ids=ids, partners=specs,
                      metrics={"service_level"})
    async with db.transaction() as s:
        for partner_id in {pid for pid, _sid in ids.values()}:
            for ch in CHANNELS:
                s.add(Target(partner_id=partner_id, key=f"sl-{ch}", channel=ch, metric="service_level",
                             comparator=">=", target_value=80.0, warning_value=85.0, window="day", min_volume=50,
                             critical_margin=10.0))
    clock = FixedClock(datetime.combine(start + timedelta(days=days - 1), datetime.min.time(), UTC)
                       + timedelta(hours=13))
    core = Core(db=db, settings=Settings(_env_file=None, database_url=url), clock=clock)
    since = datetime.combine(start, datetime.min.time(), ZoneInfo("UTC"))
    day = _day_expr(url)
    full_sql = (f"SELECT partner_id, channel, {day}, sum(num), sum(den), count(*) FROM measurement "
                f"WHERE metric = 'service_level' GROUP BY partner_id, channel, {day}")

    async def reset() -> None:
        async with db.transaction() as s:
            for table in (PreBreachWarning, BreachEpisode, EvaluationMark, OutboxItem):
                await s.execute(delete(table))

    async def full() -> float:
        await reset()
        t0 = time.perf_counter()
        await evaluate(core, since=since, full=True)
        return time.perf_counter() - t0

    full_s, full_floor = await _interleaved(_timed(lambda: _group_by(db, full_sql)), full)
    # one new day at a time: load it, then the floor sums it and the evaluation judges it
    new_days, floors = [], []
    for i in range(ROUNDS):
        first = start + timedelta(days=days - 1 + i)
        await insert_rows(db, generate(partners=specs, start=first, days=1, seed=8 + i), ids=ids, partners=specs,
                          metrics={"service_level"})
        lo = datetime.combine(first, datetime.min.time()) - timedelta(hours=14)
        hi = lo + timedelta(hours=14 + 24 + 14)
        t0 = time.perf_counter()
        await _group_by(db, "SELECT partner_id, channel, sum(num), sum(den), count(*) FROM measurement "
                            "WHERE partner_id IN (SELECT id FROM partner) AND metric = 'service_level' "
                            "AND period_start >= :lo AND period_start < :hi "
                            "GROUP BY partner_id, channel", {"lo": lo, "hi": hi})
        floors.append(time.perf_counter() - t0)
        clock.moment += timedelta(days=1)
        t0 = time.perf_counter()
        await evaluate(core)
        new_days.append(time.perf_counter() - t0)
    await db.dispose()
    label = f"{partners} partners x {len(CHANNELS)} channels x {days} days, {partners * len(CHANNELS)} daily targets"
    return [(f"full re-evaluation ({label})", full_s, full_floor, "s"),
            (f"one new day ({partners * len(CHANNELS)} targets)", statistics.median(new_days),
             statistics.median(floors), "ms")]


# --- ingest -------------------------------------------------------------------------------------

async def ingest_rows_(url: str, *, partners: int, weeks: int) -> list[Row]:
    from bot.core import Core
    from bot.demo.bulk import insert_rows, seed_partners, synthetic_partners
    from bot.demo.generator import COLUMNS, generate
    from bot.ingest.csv_format import stream_csv
    from bot.services.ingest import ingest_rows
    from bot.settings import Settings
    from bot.store.db import Database
    from bot.store.measurement_days import MeasurementDay
    from bot.store.models import Measurement

    url = fresh_schema(url, "bench_floors_ingest")
    db = Database(url)
    specs = synthetic_partners(partners)
    ids = await seed_partners(db, specs)
    rows = list(generate(partners=specs, start=date(2026, 9, 7), days=7 * weeks, seed=7))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = out.getvalue()
    core = Core(db=db, settings=Settings(_env_file=None, database_url=url))

    async def empty() -> None:
        async with db.transaction() as s:
            await s.execute(delete(MeasurementDay))
            await s.execute(delete(Measurement))

    async def floor() -> float:
        await empty()
        t0 = time.perf_counter()
        await insert_rows(db, rows, ids=ids, partners=specs, daily_sums=False)
        return time.perf_counter() - t0

    async def ingest() -> float:
        records = stream_csv(io.StringIO(text))  # as `liaison ingest` reads a file: line by line
        report = await ingest_rows(core, records, source="bench.csv", errors=records.errors)
        if report.errors:
            raise SystemExit(f"bench data rejected: {report.errors[0].render()}")
        return report

    again: list[float] = []

    async def ours() -> float:
        await empty()
        t0 = time.perf_counter()
        await ingest()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        await ingest()
        again.append(time.perf_counter() - t0)
        return first

    first_s, floor_s = await _interleaved(floor, ours)
    await db.dispose()
    label = f"{len(rows):,} CSV rows"
    return [(f"CSV ingest, first ({label})", first_s, floor_s, "s"),
            (f"same file again, vs a first ingest ({label})", statistics.median(again), first_s, "s")]


# --- slash burst --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _burst(port: int, slack, requests: int, in_flight: int, tag: str) -> tuple[float, float, float]:  # noqa: ANN001
    """Fire the signed burst; return (ack p99, answers per second, seconds until all answered)."""
    from tests.fakes.slack_requests import sign, slash_command

    queries = ("kpi", "sla")
    sem = asyncio.Semaphore(in_flight)
    acks: list[float] = []
    before = len(slack.responses)

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        verb = queries[i % len(queries)]
        body, ctype = slash_command(f"/{verb}", "", user="U0LEAD", response_url=slack.response_url(f"{tag}{i}"))
        async with sem:
            t0 = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                 headers={"Content-Type": ctype, **sign(SECRET, body)}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"ack failed: HTTP {resp.status}")
            acks.append(time.perf_counter() - t0)

    wall = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as http:
        await asyncio.gather(*(one(http, i) for i in range(requests)))
    await slack.wait_for(lambda f: len(f.responses) >= before + requests, within=1800)
    wall = time.perf_counter() - wall
    acks.sort()
    return acks[min(len(acks) - 1, int(0.99 * len(acks)))], requests / wall, wall


def _start(argv: list[str], env: dict[str, str], ready: str) -> subprocess.Popen:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if ready not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc


async def slash_rows(url: str, *, requests: int, in_flight: int) -> list[Row]:
    from tests.fakes.slack_api import FakeSlackApi

    url, core = await _demo(url, "bench_floors_slash")
    await core.db.dispose()
    slack = FakeSlackApi()
    await slack.start()
    api = slack.base_url + "api/"
    env = {**os.environ, "LIAISON_DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": api, "LIAISON_LOG_LEVEL": "warning"}
    results: dict[str, list[tuple[float, float, float, float]]] = {"floor": [], "ours": []}
    for r in range(ROUNDS):
        for who in ("floor", "ours"):
            port = _free_port()
            if who == "floor":
                argv = [sys.executable, "-m", "bench.bare_bolt", "--port", str(port), "--api-url", api,
                        "--signing-secret", SECRET]
                proc = await asyncio.to_thread(_start, argv, env, "ready")
            else:
                argv = [sys.executable, "-m", "adapters.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
                proc = await asyncio.to_thread(_start, argv, env, "liaison serving")
            try:
                p99, per_s, wall = await _burst(port, slack, requests, in_flight, f"{who}{r}-")
                results[who].append((p99, per_s, wall, _rss_mb(proc.pid)))
            finally:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 30)
    await slack.stop()

    def med(who: str, i: int) -> float:
        return statistics.median(x[i] for x in results[who])

    label = f"{requests:,} signed /kpi+/sla, {in_flight} in flight"
    return [(f"slash ack p99 ({label})", med("ours", 0), med("floor", 0), "ms"),
            (f"answers per second on response_url ({label})", med("ours", 1), med("floor", 1), "/s"),
            ("RSS of the server after the burst", med("ours", 3), med("floor", 3), "MB")]


# --- outbox -------------------------------------------------------------------------------------

async def outbox_rows(url: str, *, messages: int, channels: int) -> list[Row]:
    """Deliver ``messages`` outbox rows to ``channels`` Slack channels that take 1 message a second.

    The fake Slack refuses a second post to a channel within a second (429, Retry-After in
    whole seconds). Liaison: the real deliver job on an APScheduler interval, as `serve` runs it,
    real slack_sdk. Floor: a paced client, one task per channel posting with slack_sdk and
    waiting the pace after each answer. Rows go in round-robin over the channels (as a run of
    alerts and digests lands). A last round scripts one 429 (Retry-After 2) into the burst and
    reports how long its channel then stayed quiet.
    """
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger
    from pydantic import SecretStr
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.gateway import gateway_from_core
    from bot.core import Core
    from bot.messages import Message
    from bot.services.outbox import enqueue
    from bot.settings import Settings
    from jobs import deliver
    from jobs.scheduler import _runner
    from tests.fakes.slack_api import FakeSlackApi, Scripted

    url = fresh_schema(url, "bench_floors_outbox")
    pace = 1.0
    slack = FakeSlackApi(channel_interval=pace)
    await slack.start()
    api = slack.base_url + "api/"
    settings = Settings(_env_file=None, database_url=url, slack_bot_token=SecretStr("xoxb-bench"),
                        slack_signing_secret=SecretStr("s"), slack_api_url=api, slack_pace_seconds=pace)
    core = Core.from_settings(settings)
    core.gateways = {"slack": gateway_from_core(core)}
    per_channel = messages // channels
    names = {tag: [f"C{tag.upper()}{n:03d}" for n in range(channels)] for tag in
             [f"{who}{r}" for who in ("f", "o") for r in range(ROUNDS)] + ["hold"]}

    def accepted(tag: str) -> int:
        return sum(len(slack.messages.get(c, ())) for c in names[tag])

    async def until_delivered(tag: str, total: int) -> None:
        deadline = time.perf_counter() + 1800
        while accepted(tag) < total:
            if time.perf_counter() > deadline:
                raise SystemExit(f"outbox: only {accepted(tag)} of {total} delivered in 30 min")
            await asyncio.sleep(0.02)

    refused: dict[str, int] = {"f": 0, "o": 0}

    async def floor(r: int) -> float:
        tag = f"f{r}"
        client = AsyncWebClient(token="xoxb-bench", base_url=api)
        before = len(slack.rate_limited)

        async def one_channel(channel: str) -> None:
            for k in range(per_channel):
                if k:
                    await asyncio.sleep(pace)
                await client.chat_postMessage(channel=channel, text=f"m{k}")

        t0 = time.perf_counter()
        await asyncio.gather(*(one_channel(c) for c in names[tag]))
        refused["f"] += len(slack.rate_limited) - before
        return time.perf_counter() - t0

    async def enqueue_all(tag: str) -> None:
        async with core.db.transaction() as s:
            for i in range(per_channel * channels):
                await enqueue(s, platform="slack", destination=names[tag][i % channels],
                              message=Message(title=f"m{i}"), key=f"{tag}:{i}", now=core.clock.now())

    async def worker(tag: str) -> float:
        """Start the deliver job as `serve` schedules it; return seconds until every row is on Slack."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(_runner(core, deliver.JOB), IntervalTrigger(seconds=deliver.JOB.every.total_seconds(),
                                                                     timezone=UTC),
                          id=deliver.JOB_ID, coalesce=True, max_instances=1, misfire_grace_time=60,
                          next_run_time=datetime.now(UTC))
        t0 = time.perf_counter()
        scheduler.start()
        try:
            await until_delivered(tag, per_channel * channels)
            return time.perf_counter() - t0
        finally:
            scheduler.shutdown(wait=False)
            from jobs.scheduler import drain

            await drain(60)

    async def ours(r: int) -> float:
        tag = f"o{r}"
        await enqueue_all(tag)
        before = len(slack.rate_limited)
        elapsed = await worker(tag)
        refused["o"] += len(slack.rate_limited) - before
        return elapsed

    rounds = iter(range(ROUNDS))
    rounds_f = iter(range(ROUNDS))
    ours_s, floor_s = await _interleaved(lambda: floor(next(rounds_f)), lambda: ours(next(rounds)))
    # Retry-After: one scripted 429 (2 s) lands on the 150th post; how long does its channel wait?
    await enqueue_all("hold")
    seen = len(slack.of("chat.postMessage"))
    at_429: list[int] = []

    async def script_429() -> None:
        while len(slack.of("chat.postMessage")) < seen + 150:  # noqa: ASYNC110 - polling the fake's log
            await asyncio.sleep(0.002)
        # no await from here: the next chat.postMessage to arrive gets the scripted answer
        at_429.append(len(slack.of("chat.postMessage")))
        slack.fail_next("chat.postMessage", Scripted(status=429, error="ratelimited", retry_after=2))

    scripting = asyncio.create_task(script_429())
    await worker("hold")
    await scripting
    posts = slack.of("chat.postMessage")
    hit = posts[at_429[0]]
    channel = hit.body.get("channel")
    after = [c.at for c in posts[at_429[0] + 1:] if c.body.get("channel") == channel]
    quiet = after[0] - hit.at if after else float("nan")
    await slack.stop()
    await core.db.dispose()
    label = f"{per_channel * channels:,} messages to {channels} channels, 1 msg/s per channel"
    minimum = per_channel * pace
    return [(f"outbox, {label}, vs a paced client", ours_s, floor_s, "s"),
            (f"outbox, {label}, vs the theoretical minimum", ours_s, minimum, "s"),
            (f"outbox 429s from the pace, Liaison vs paced client ({ROUNDS} rounds)", refused["o"],
             refused["f"], "429s"),
            ("outbox: channel quiet after a 429 with Retry-After 2, vs 2 s", quiet, 2.0, "s")]


# --- the table ----------------------------------------------------------------------------------

def _show(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1000:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "/s":
        return f"{value:,.1f}/s"
    return f"{value:,.0f} {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", help="database URL (repeat for several backends)")
    parser.add_argument("--only", default="chart,answers,evaluation,ingest,slash,outbox")
    parser.add_argument("--partners", type=int, default=30, help="evaluation partners")
    parser.add_argument("--days", type=int, default=365, help="evaluation days")
    parser.add_argument("--ingest-partners", type=int, default=10)
    parser.add_argument("--ingest-weeks", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--outbox-messages", type=int, default=2000)
    parser.add_argument("--outbox-channels", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=50)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # sqlmodel's execute() nag
    urls = args.url or [f"sqlite:///{Path(tempfile.mkdtemp()) / 'floors.db'}"]
    only = set(args.only.split(","))
    table: list[tuple[str, str, Row]] = []

    async def run() -> None:
        if "chart" in only:
            table.extend(("-", "chart", r) for r in await chart_rows(urls[0]))
        for url in urls:
            name = backend(url)
            if "answers" in only:
                table.extend((name, "answers", r) for r in await answer_rows(url))
            if "slash" in only and url.startswith("sqlite"):
                table.extend((name, "slash", r) for r in await slash_rows(url, requests=args.requests,
                                                                         in_flight=args.in_flight))
            if "evaluation" in only:
                table.extend((name, "evaluation", r) for r in await evaluation_rows(url, partners=args.partners,
                                                                                  days=args.days))
            if "outbox" in only:
                table.extend((name, "outbox", r) for r in await outbox_rows(
                    url, messages=args.outbox_messages, channels=args.outbox_channels))
            if "ingest" in only:
                table.extend((name, "ingest", r) for r in await ingest_rows_(
                    url, partners=args.ingest_partners, weeks=args.ingest_weeks))

    asyncio.run(run())
    print(f"\nmedians of {ROUNDS} interleaved rounds (floor, Liaison, ...)\n")
    print("| backend | measure | Liaison | floor | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, _section, (measure, ours, floor, unit) in table:
        ratio = ours / floor if floor else float("nan")
        print(f"| {name} | {measure} | {_show(ours, unit)} | {_show(floor, unit)} | {ratio:.2f} |")
    print("\ncommand: python -m bench.bench_floors " + shlex.join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
