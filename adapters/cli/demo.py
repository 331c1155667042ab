"""``liaison demo``: the whole product on SQLite in a terminal, no chat workspace needed.

Creates the database, applies the example config, loads 8 weeks of generated data with an
SLA breach, evaluates it, shows what the bot would post, then opens the console session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select

from adapters.cli.demo_announcements import show_announcement
from adapters.cli.demo_escalation import show_escalation
from adapters.cli.demo_feedback import show_pulse
from adapters.cli.demo_reports import show_reverse_report
from adapters.cli.demo_staffing import show_staffing
from adapters.cli.digest import show_digest_and_qbr
from adapters.console.gateway import PreviewGateway
from adapters.console.render import render
from adapters.console.shell import ConsoleSession, run_interactive
from bot.commands import dispatch
from bot.config.loader import ConfigError, load_config
from bot.core import Core
from bot.demo.bulk import insert_rows
from bot.demo.scenario import example_partners, example_rows
from bot.domain.qbr import quarter_of
from bot.messages import Message
from bot.messages_codec import message_from_dict
from bot.ports import ManualClock
from bot.services.config_apply import apply_config
from bot.services.delivery import deliver_all
from bot.services.evaluation import EvaluationReport, evaluate
from bot.services.identity import resolve_actor
from bot.settings import Settings
from bot.store.alerts import BreachEpisode
from bot.store.bootstrap import ensure_schema
from bot.store.models import Measurement, Partner, Site
from bot.store.outbox import OutboxItem

EXAMPLE = "liaison.example.yaml"
REPLAY_DAYS = 14
Write = Callable[[str], object]
# Showcase steps run after the data is loaded, in order: each gets (core, preview, write).
# Features append theirs (an escalation, a digest, a QBR reminder, ...).
Showcase = Callable[[Core, dict[str, PreviewGateway], Write], Awaitable[None]]
SHOWCASE: list[tuple[str, Showcase]] = []


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="run the terminal demo on SQLite: example partners, 8 weeks of data, alerts, console",
        description="Set up the example partners and 8 weeks of realistic data, show what Liaison would "
                    "post, then open the console session (or answer piped commands).")
    parser.add_argument("--no-shell", action="store_true", help="show the demo output and stop")
    parser.add_argument("--config", default=None, help=f"config file (default: {EXAMPLE})")
    parser.add_argument("--weeks", type=int, default=8, help="weeks of data to generate (default 8)")
    parser.add_argument("--as", dest="user", default="admin", help="console user (default admin)")
    parser.add_argument("--dashboard-port", type=int, default=0,
                        help="port for the dashboard while the console is open (default: a free one)")
    parser.set_defaults(func=_demo)


def example_config_path(given: str | None) -> Path:
    """Find the example config: as given, in the working directory, or beside the package."""
    if given:
        return Path(given)
    for candidate in (Path.cwd() / EXAMPLE, Path(__file__).resolve().parents[2] / EXAMPLE):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{EXAMPLE} not found in {Path.cwd()}; pass --config FILE")


def _heading(write: Write, text: str) -> None:
    write(f"\n{'#' * 100}\n# {text}\n{'#' * 100}")


async def load_demo_data(core: Core, *, weeks: int, write: Write) -> int:
    """Generate and load the example scenario ending yesterday, unless data is already there."""
    async with core.db.session() as session:
        existing = (await session.execute(select(func.count()).select_from(Measurement))).scalar_one()
        rows = (await session.execute(select(Partner.slug, Site.key, Partner.id, Site.id)
                                      .join(Site, Site.partner_id == Partner.id))).all()
    if existing:
        write(f"Data: {existing:,} measurements already loaded; keeping them.")
        return 0
    ids = {(slug, key): (pid, sid) for slug, key, pid, sid in rows}
    end = core.clock.now().astimezone(ZoneInfo("UTC")).date() - timedelta(days=1)
    # The showcase's QBR is a week ahead: load enough weeks to fill the quarter its pack reviews.
    reviewed = quarter_of(core.clock.now() + timedelta(days=7), "UTC")
    quarter_start = date(int(reviewed[:4]), 3 * int(reviewed[-1]) - 2, 1) - timedelta(days=1)
    weeks = max(weeks, -(-(end - quarter_start).days // 7))
    count = await insert_rows(core.db, example_rows(end=end, weeks=weeks), ids=ids, partners=example_partners())
    write(f"Data: generated {weeks} weeks ending {end} (15-minute intervals, Erlang C staffing, "
          f"one staffing incident at Acme Kraków): {count:,} measurements.")
    return count


async def show_command(core: Core, write: Write, text: str, *, user: str = "admin") -> Message | None:
    actor = await resolve_actor(core, platform="console", platform_user_id=user)
    write(f"\n{user}> {text}")
    reply = await dispatch(core, text=text, actor=actor, platform="console", channel="console")
    write(render(reply))
    return reply if isinstance(reply, Message) else None


async def show_alerts(core: Core, preview: dict[str, PreviewGateway], write: Write) -> None:
    """Replay the last two weeks day by day: evaluate, deliver, and show a breach alert and its recovery.

    History before the replay is judged quietly (as a fresh install would); each replayed
    morning the evaluation job and the delivery worker run as `liaison serve` would run them.
    """
    real_now = core.clock.now()
    clock = ManualClock(real_now - timedelta(days=REPLAY_DAYS))
    replay = Core(db=core.db, settings=core.settings, clock=clock)
    async with core.db.session() as session:
        first = (await session.execute(select(func.min(Measurement.period_start)))).scalar_one()
    totals = EvaluationReport()
    sent = 0
    for day in range(REPLAY_DAYS + 1):
        clock.set(min(real_now, real_now - timedelta(days=REPLAY_DAYS - day)))
        report = await evaluate(replay, since=first if day == 0 else None)
        for name in ("opened", "recovered", "followups", "warnings", "messages"):
            setattr(totals, name, getattr(totals, name) + getattr(report, name))
        sent += (await deliver_all(replay, preview, limit=500)).sent
    write(f"Replayed {REPLAY_DAYS} days of evaluation: {totals.opened} breach episodes opened, "
          f"{totals.recovered} recovered, {totals.followups} still-breaching follow-ups, "
          f"{totals.warnings} pre-breach warnings; {sent} messages delivered to the preview gateways.")
    async with core.db.session() as session:
        episodes = (await session.execute(
            select(BreachEpisode).where(BreachEpisode.alert_key != "").order_by(BreachEpisode.id)
        )).scalars().all()
        items: list[OutboxItem] = []
        # Prefer an episode that has both its alert and its recovery on Slack.
        for episode in sorted(episodes, key=lambda e: (e.recovered_at is None, -e.windows_breached)):
            items = []
            for prefix in (f"{episode.alert_key}@slack:", f"{episode.alert_key}:recovered@slack:"):
                item = (await session.execute(
                    select(OutboxItem).where(OutboxItem.key.startswith(prefix)).order_by(OutboxItem.id).limit(1)
                )).scalars().first()
                if item is not None:
                    items.append(item)
            if items:
                break
    for label, item in zip(("Breach alert", "Recovery, posted in the alert's thread"), items, strict=False):
        _heading(write, f"{label} — Slack channel {item.destination}")
        write(render(message_from_dict(item.payload)))
    if not items:
        write("No breach episode was announced in the replayed days.")


SHOWCASE.append(("SLA breach alert and recovery", show_alerts))
SHOWCASE.append(("Escalation: filed in Slack, climbs the levels, acknowledged and resolved in Teams", show_escalation))
SHOWCASE.append(("Reverse report: sent from Slack, acknowledged in place, the other one reminded",
                 show_reverse_report))
SHOWCASE.append(("Announcement: a CRM change rolled out to Acme's and Globex's sites, acknowledged, reminded",
                 show_announcement))
SHOWCASE.append(("Feedback pulse: acme's round goes out as Slack DMs, three people answer, the results", show_pulse))
SHOWCASE.append(("Staffing: forecast vs schedule, a pre-shortfall warning and a what-if", show_staffing))
SHOWCASE.append(("Weekly digest with chart, QBR reminder and pack", show_digest_and_qbr))


async def open_dashboard(core: Core, *, port: int, user: str, write: Write) -> web.AppRunner:
    """Serve the dashboard on 127.0.0.1 while the console is open and print the user's sign-in link."""
    from adapters.http import create_app

    runner = web.AppRunner(create_app(core, mounts=("adapters.web",)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    core.settings = core.settings.model_copy(update={"public_url": f"http://127.0.0.1:{bound}"})
    _heading(write, "Dashboard: open this link in a browser while the console below is open")
    await show_command(core, write, "dashboard", user=user)
    write("(Type `dashboard` again for a fresh link; `dashboard acme` opens a partner's page.)")
    return runner


async def _run_piped(session: ConsoleSession, stdin) -> None:  # noqa: ANN001 - a text stream
    """Answer piped lines without blocking the event loop, so the dashboard keeps serving meanwhile."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        if line.strip():
            session.write(f"\n{session.user}> {line.strip()}")
        if not await session.handle(line):
            break


def demo_settings() -> Settings:
    """Return the demo's settings: a fresh database in a new temporary directory unless one is configured.

    A fresh database each run tells the same story every time (a second run on the same file would
    double its escalations and reports), and the chart and pack it writes land beside it, not in the
    working directory.
    """
    settings = Settings()
    if "database_url" in settings.model_fields_set:  # LIAISON_DATABASE_URL (or .env) chose one: use it
        return settings
    folder = Path(tempfile.mkdtemp(prefix="liaison-demo-"))
    return settings.model_copy(update={"database_url": f"sqlite:///{folder / 'liaison-demo.db'}"})


async def _demo(args: argparse.Namespace) -> int:
    write: Write = print
    core = Core.from_settings(demo_settings())
    try:
        _heading(write, f"Liaison demo — database {core.settings.database_url}")
        revision = await ensure_schema(core.db)
        write(f"Schema: at migration {revision}.")
        try:
            config = load_config(example_config_path(args.config))
        except (ConfigError, FileNotFoundError) as exc:
            write(str(exc))
            return 1
        plan = await apply_config(core.db, config)
        write(f"Config: {plan.summary()} ({len(config.partners)} partners).")
        await load_demo_data(core, weeks=args.weeks, write=write)
        # Gateways that only show what would be posted: no workspace is needed.
        preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
        _heading(write, "A KPI answer (what /kpi acme shows in Slack)")
        await show_command(core, write, "kpi acme")
        _heading(write, "SLA compliance (/sla)")
        await show_command(core, write, "sla")
        for title, step in SHOWCASE:
            _heading(write, title)
            await step(core, preview, write)
        if args.no_shell:
            return 0
        runner = await open_dashboard(core, port=args.dashboard_port, user=args.user, write=write)
        try:
            _heading(write, "Console: type commands as in Slack (help, kpi acme, kpi all csat last-week, sla, "
                            "dashboard, quit)")
            session = ConsoleSession(core=core, user=args.user, write=write)
            if sys.stdin.isatty():
                await run_interactive(session, sys.stdin)
            else:
                await _run_piped(session, sys.stdin)
        finally:
            await runner.cleanup()
        return 0
    finally:
        await core.db.dispose()
