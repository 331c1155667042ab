"""The ingest API: ``POST /api/v1/measurements`` and ``POST /api/v1/staffing`` with a bearer token."""

from __future__ import annotations

import hmac

from aiohttp import web

from bot.core import Core
from bot.ingest.json_format import parse_json
from bot.ingest.rows import FormatError
from bot.services.ingest import ingest_rows

_CORE: web.AppKey[Core] = web.AppKey("api_core", Core)


def _problem(status: int, message: str, *, headers: dict[str, str] | None = None, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def _authorized(request: web.Request, core: Core) -> bool:
    token = core.settings.ingest_token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if token is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


async def _ingest_body(request: web.Request, core) -> bytes | web.Response:
    """Return the authorized JSON body of an ingest request, or the problem answer that refuses it."""
    if core.settings.ingest_token is None:
        return _problem(503, "ingest is disabled: set LIAISON_INGEST_TOKEN on the server")
    if not _authorized(request, core):
        return _problem(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"},
                        hint="send Authorization: Bearer <LIAISON_INGEST_TOKEN>")
    limit = core.settings.ingest_max_bytes
    if request.content_length is not None and request.content_length > limit:
        return _problem(413, f"body larger than {limit} bytes; split the file")
    if request.content_type != "application/json":
        return _problem(415, "send JSON with Content-Type: application/json")
    # content.read(n) returns what one chunk holds (256 KiB), not n bytes: read until the end or the cap
    chunks, size = [], 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        return _problem(413, f"body larger than {limit} bytes; split the file")
    return b"".join(chunks)


async def post_measurements(request: web.Request) -> web.Response:
    core = request.app[_CORE]
    body = await _ingest_body(request, core)
    if isinstance(body, web.Response):
        return body
    try:
        records, errors = parse_json(body)
    except FormatError as exc:
        return _problem(422, str(exc), errors=[])
    report = await ingest_rows(core, records, source="api", errors=errors)
    if report.errors:
        return _rejected(report.errors, more=report.more_errors)
    return web.json_response({"rows": report.rows, "measurements": report.measurements, "created": report.created,
                              "changed": report.changed, "unchanged": report.unchanged})


async def post_staffing(request: web.Request) -> web.Response:
    """Take forecasts and schedules (the JSON staffing format), all or nothing, like measurements."""
    from bot.ingest.staffing import parse_json as parse_staffing
    from bot.services.staffing_ingest import ingest_staffing

    core = request.app[_CORE]
    body = await _ingest_body(request, core)
    if isinstance(body, web.Response):
        return body
    try:
        records, errors = parse_staffing(body)
    except FormatError as exc:
        return _problem(422, str(exc), errors=[])
    report = await ingest_staffing(core, records, source="api", errors=errors)
    if report.errors:
        return _rejected(report.errors)
    return web.json_response({"rows": report.rows, "forecast": vars(report.forecast),
                              "schedule": vars(report.schedule), "versions": report.versions})


def _rejected(errors, *, more: int = 0) -> web.Response:
    """Answer 422 with every row error (the first 1,000, and how many more), each naming its item and field."""
    body: dict[str, object] = {"error": "rejected, nothing was written", "errors": [
        {"item": _item(e.where), "field": e.field, "error": e.error} for e in errors]}
    if more:
        body["more_errors"] = more
    return web.json_response(body, status=422)


def _item(where: str) -> int | None:
    word, _, number = where.partition(" ")
    return int(number) if word == "item" and number.isdigit() else None


def mount(app: web.Application, core: Core) -> None:
    app[_CORE] = core
    app.router.add_post("/api/v1/measurements", post_measurements)
    app.router.add_post("/api/v1/staffing", post_staffing)
