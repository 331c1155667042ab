"""``liaison serve``: the HTTP app (Slack events, Teams messages, ingest API) plus the job scheduler."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import gc
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator

from aiohttp import web
from sqlalchemy.engine import make_url

from bot.core import Core
from bot.ports import ChatGateway
from bot.services import outbox
from bot.settings import Settings
from bot.store.db import is_sqlite

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the bot: HTTP endpoints, delivery worker and scheduled jobs",
                            description="Serve Slack/Teams/ingest endpoints and run every scheduled job "
                                        "(SLA evaluation, outbox delivery, ...) until SIGTERM/SIGINT.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    parser.add_argument("--socket-mode", action="store_true",
                        help="also connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    parser.set_defaults(func=_serve)


def build_gateways(core: Core) -> dict[str, ChatGateway]:
    """Create a gateway for each configured platform; a missing adapter is logged, not fatal."""
    gateways: dict[str, ChatGateway] = {}
    settings = core.settings
    if settings.slack_bot_token is not None or settings.slack_oauth:
        gateway = _make("adapters.slack.gateway", core)
        if gateway is not None:
            gateways["slack"] = gateway
    # without an app id (LIAISON_TEAMS_ALLOW_UNAUTHENTICATED: the Emulator, a fake connector) the
    # connector is called without a token, as botbuilder does for an anonymous bot
    if settings.microsoft_app_id or settings.teams_allow_unauthenticated:
        gateway = _make("adapters.teams.gateway", core)
        if gateway is not None:
            gateways["teams"] = gateway
    return gateways


FACTORY_NAMES = ("gateway_from_core", "gateway_from_settings", "build_gateway")


def gateway_factory(module_name: str) -> Callable[[Core], ChatGateway] | None:
    """Find the adapter's gateway factory (a function of the Core), or None when not available."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        log.warning("%s is not available (%s); messages for it stay in the outbox", module_name, exc)
        return None
    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if factory is not None:
            return factory
    log.warning("%s has none of %s; messages for it stay in the outbox", module_name, ", ".join(FACTORY_NAMES))
    return None


def _make(module_name: str, core: Core) -> ChatGateway | None:
    factory = gateway_factory(module_name)
    return factory(core) if factory is not None else None


async def _start_socket_mode(core: Core) -> object | None:
    try:
        module = importlib.import_module("adapters.slack.socket_mode")
    except ImportError as exc:
        log.warning("Slack Socket Mode is not available (%s)", exc)
        return None
    return await module.start(core)


def settle_heap() -> None:
    """Move everything alive after start-up out of the collector's sight (``gc.freeze``).

    Modules, settings and the app live for the whole process; without this every full
    collection during a burst walks them again (0.2 to 0.3 s pauses that delay acks).
    """
    gc.collect()
    gc.freeze()


async def serve(core: Core, *, host: str, port: int, socket_mode: bool = False,
                stop: asyncio.Event | None = None, gateways: dict[str, ChatGateway] | None = None) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT): web app, scheduler, optional Socket Mode.

    ``gateways`` defaults to the ones the settings configure (``build_gateways``).
    """
    from adapters.http import create_app
    from jobs.scheduler import attach_wake, build_scheduler, drain

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if core.settings.dashboard_secret is None:
        log.warning("LIAISON_DASHBOARD_SECRET is not set: dashboard links work only on this one process "
                    "and stop working when it restarts")
    from adapters.cli.errors import OperatorError

    try:
        app = create_app(core)
    except ValueError as exc:  # a Teams/Slack setting an adapter refuses at mount (e.g. an app id without password)
        raise OperatorError(str(exc)) from exc
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise OperatorError(f"port {port} on {host} is in use (another liaison serve?); stop it or pass "
                                f"--port") from exc
        raise OperatorError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); check --host/--port") from exc
    scheduler = build_scheduler(core, build_gateways(core) if gateways is None else gateways)
    listener = attach_wake(scheduler)
    scheduler.start()
    socket_client = await _start_socket_mode(core) if socket_mode else None
    settle_heap()
    print(f"liaison serving on http://{host}:{port} with gateways: {', '.join(core.gateways) or 'none'}",
          flush=True)
    try:
        await stop.wait()
    finally:
        outbox.remove_commit_listener(listener)
        # graceful: fire nothing new, let the delivery worker record the send in flight and
        # hand its other claimed rows back, let job runs finish, then exit (a rolling restart
        # neither duplicates nor delays anything by a lease)
        # (APScheduler's asyncio executor cancels running jobs on shutdown, so pause first and
        # wait for the runs ourselves)
        core.draining = True
        scheduler.pause()
        await drain(within=core.settings.shutdown_grace_seconds)
        scheduler.shutdown(wait=False)
        if socket_client is not None and hasattr(socket_client, "close"):
            await socket_client.close()
        await runner.cleanup()
        await core.db.dispose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def check_settings(settings: Settings, *, socket_mode: bool) -> None:
    """Refuse settings that cannot work before anything starts (each raises OperatorError)."""
    from adapters.cli.errors import OperatorError

    if socket_mode and settings.slack_app_token is None:
        raise OperatorError("--socket-mode needs SLACK_APP_TOKEN (an xapp- app-level token with connections:write); "
                            "set it or drop --socket-mode")
    if settings.microsoft_app_id and settings.microsoft_app_password is None:
        from adapters.teams.auth import canonical_app_type

        if canonical_app_type(settings.microsoft_app_type) != "UserAssignedMSI":
            raise OperatorError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not; set the app "
                                "registration's client secret (or unset MICROSOFT_APP_ID to serve without Teams)")
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise OperatorError(f"LIAISON_LOG_LEVEL={settings.log_level!r} is not a level; use DEBUG, INFO, WARNING "
                            "or ERROR")


async def _serve(args: argparse.Namespace) -> int:
    from adapters.cli.errors import database_unreachable, explain

    settings = Settings()
    check_settings(settings, socket_mode=args.socket_mode)
    if not args.verbose:
        logging.getLogger().setLevel(settings.log_level.upper())
    with single_sqlite_scheduler(settings.database_url) as refusal:
        if refusal:
            print(refusal, file=sys.stderr, flush=True)
            return 2
        core = Core.from_settings(settings)
        from bot.store.bootstrap import ensure_schema

        try:
            await ensure_schema(core.db)
        except Exception as exc:
            await core.db.dispose()
            if explain(exc) is None and not isinstance(exc, OSError):
                raise
            raise database_unreachable(settings.database_url, exc) from exc
        await serve(core, host=args.host, port=args.port, socket_mode=args.socket_mode)
    return 0


@contextlib.contextmanager
def single_sqlite_scheduler(url: str) -> Iterator[str]:
    """Hold an exclusive ``flock`` beside a SQLite file while serving; yield a refusal line if taken.

    SQLite is the single-process store: two schedulers on one file would both run every job.
    The lock dies with the process, so a killed ``serve`` never blocks the next one.
    PostgreSQL needs none of this (replicas coordinate through advisory locks): yields "".
    """
    database = make_url(url).database if is_sqlite(url) else None
    if not database or database == ":memory:":
        yield ""
        return
    with open(f"{database}.serve-lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield (f"liaison serve: another `liaison serve` already runs on {database}; SQLite allows one "
                   "process per file (stop it, or use PostgreSQL in LIAISON_DATABASE_URL to run several replicas)")
            return
        try:
            yield ""
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
