"""Operator mistakes: one line naming the setting or argument and what to do, exit status 2.

The trace goes to the log at DEBUG (``liaison -v`` shows it); the operator reads one line.
"""

from __future__ import annotations

import errno


class OperatorError(Exception):
    """A setting or argument is wrong; the message names it and says what to do."""


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is shown as given, minus any password
        return url.split("@")[-1]


def explain(exc: BaseException) -> str | None:
    """Return the one-line answer for an operator mistake, or None for a bug (which keeps its traceback)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DBAPIError

    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error.get("loc", ())) or "a setting"
            problems.append(f"{name}={error.get('input')!r}: {error.get('msg', 'invalid')}")
        return "; ".join(problems) + " (fix the environment variable or .env, see README \"Configuration\")"
    if isinstance(exc, ArgumentError):
        return (f"LIAISON_DATABASE_URL is not a database URL ({exc}); write it like sqlite:///liaison.db "
                "or postgresql://user:password@host:5432/liaison")
    if isinstance(exc, DBAPIError) and any(word in str(exc.orig or exc) for word in ("no such table", "does not exist")):
        return ("the database has no Liaison tables yet; run `liaison db upgrade` (or `liaison config apply`) "
                "against LIAISON_DATABASE_URL first")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated or isinstance(exc, DBAPIError) and \
            exc.__class__.__name__ in ("OperationalError", "InterfaceError"):
        reason = str(exc.orig or exc).splitlines()[0]
        return (f"cannot reach the database in LIAISON_DATABASE_URL ({reason}); check that it is running "
                "and the URL is right")
    if isinstance(exc, (ConnectionError, TimeoutError)) or isinstance(exc, OSError) and exc.errno in (
            errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT):
        return (f"cannot reach the database in LIAISON_DATABASE_URL ({exc}); check that it is running "
                "and the URL is right")
    import socket

    if isinstance(exc, socket.gaierror):
        return (f"cannot resolve the database host in LIAISON_DATABASE_URL ({exc}); check the host name")
    return None


def database_unreachable(url: str, exc: BaseException) -> OperatorError:
    """Name the database (without its password) that could not be reached."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return OperatorError(f"cannot reach the database at LIAISON_DATABASE_URL={_safe_url(url)} ({reason}); "
                         "check that it is running and the URL is right")
