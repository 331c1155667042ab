"""The one aiohttp app: /healthz, /api/v1/* (ingest), /slack/events, /api/messages, /dashboard/.

Each part mounts itself through its own ``mount(app, core)``; this module only lists them.
"""

from __future__ import annotations

import importlib

from aiohttp import web
from sqlalchemy import text

from bot.core import Core
from bot.store import locks

CORE_KEY: web.AppKey[Core] = web.AppKey("core", Core)

# The one visible list of HTTP parts; each module has mount(app, core).
MOUNTS: tuple[str, ...] = (
    "adapters.api",
    "adapters.slack.http",
    "adapters.teams.http",
    "adapters.web",
    "adapters.legal",
)


async def healthz(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    try:
        async with core.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - health must answer, not raise
        return web.json_response({"status": "degraded", "database": str(exc.__class__.__name__)}, status=503)
    # which job locks this replica holds right now: with several replicas, exactly one holds each
    # running job's lock (scheduler_lock says whether this one is doing scheduled work at the moment)
    held = sorted(name.removeprefix("job:") for name in locks.HELD)
    return web.json_response({"status": "ok", "scheduler_lock": bool(held), "jobs_running": held,
                              "draining": core.draining,
                              "coordination": "sqlite-single-process" if core.db.is_sqlite else "postgresql"})


def create_app(core: Core, *, mounts: tuple[str, ...] | None = None) -> web.Application:
    """Build the aiohttp application with every configured part mounted."""
    app = web.Application(client_max_size=core.settings.ingest_max_bytes + 1024)
    app[CORE_KEY] = core
    app.router.add_get("/healthz", healthz)
    for name in MOUNTS if mounts is None else mounts:
        importlib.import_module(name).mount(app, core)
    return app
