"""Dashboard sign-in: the link's token becomes a session cookie; every request re-reads the person.

Refusals are pages that say what happened and how to get in (type `dashboard` in chat), with
the status a browser and a test can tell apart: 401 no/expired/invalid session, 403 not set up.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.core import Core
from bot.domain.access import NOT_REGISTERED, Actor
from bot.services.dashboard_links import (
    LINK,
    SESSION,
    TokenExpired,
    TokenInvalid,
    session_token,
    verify,
)
from bot.services.identity import resolve_actor

log = logging.getLogger(__name__)

COOKIE = "liaison_session"
GET_A_LINK = ("Type `dashboard` to Liaison in Slack or Teams (or press Open dashboard on your Home tab "
              "or in a digest) and open the link it sends you.")


class Refusal(Exception):
    """A request the dashboard answers with an explanation page instead of data."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(title)
        self.status, self.title, self.text = status, title, text


def expired(what: str, at: str) -> Refusal:
    return Refusal(401, f"This {what} has expired", f"It expired at {at}. {GET_A_LINK}")


def _when(core: Core, exc: TokenExpired) -> str:
    return f"{exc.expired_at:%Y-%m-%d %H:%M} UTC"


async def login(core: Core, request: web.Request) -> web.Response:
    """Exchange a valid sign-in link for a session cookie and go to the page the link names."""
    now = core.clock.now()
    try:
        link = verify(core.settings, request.query.get("t", ""), purpose=LINK, now=now)
    except TokenExpired as exc:
        raise expired("sign-in link", _when(core, exc)) from None
    except TokenInvalid:
        raise Refusal(401, "This sign-in link is not valid",
                      f"It may have been cut short or changed. {GET_A_LINK}") from None
    actor = await resolve_actor(core, platform=link.platform, platform_user_id=link.platform_user_id)
    if not actor.registered:
        raise Refusal(403, "You are not set up in Liaison", NOT_REGISTERED)
    token, expires = session_token(core.settings, link, now=now)
    response = web.HTTPSeeOther(link.path)
    response.set_cookie(COOKIE, token, path="/dashboard/", httponly=True, secure=True,
                        samesite=core.settings.dashboard_cookie_samesite,
                        max_age=int((expires - now).total_seconds()))
    log.info("dashboard sign-in for %s:%s", link.platform, link.platform_user_id)
    raise response


async def viewer(core: Core, request: web.Request) -> Actor:
    """Return the signed-in person, or raise a Refusal saying how to sign in."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise Refusal(401, "Sign in to the Liaison dashboard", GET_A_LINK)
    try:
        identity = verify(core.settings, raw, purpose=SESSION, now=core.clock.now())
    except TokenExpired as exc:
        raise expired("dashboard session", _when(core, exc)) from None
    except TokenInvalid:
        raise Refusal(401, "Your dashboard session is not valid", GET_A_LINK) from None
    actor = await resolve_actor(core, platform=identity.platform, platform_user_id=identity.platform_user_id)
    if not actor.registered:
        raise Refusal(403, "You are not set up in Liaison", NOT_REGISTERED)
    return actor
