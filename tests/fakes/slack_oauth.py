"""Drive Slack's OAuth install the way a browser does: /slack/install, then back to /slack/oauth_redirect.

The test plays the installer's browser against the real aiohttp app and Bolt's AsyncOAuthFlow;
"Allow" on slack.com is the fake Web API's install code for the workspace.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import aiohttp
from aiohttp.test_utils import TestServer

COOKIE = "slack-app-oauth-state"


@dataclass
class InstallPage:
    status: int
    authorize_url: str
    state: str
    cookie: str | None  # the state cookie Bolt set, as the browser would send it back


async def open_install(server: TestServer) -> InstallPage:
    """GET /slack/install and read the "Add to Slack" link and the state cookie from it."""
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/slack/install")) as resp:
        body = await resp.text()
        match = re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', body)
        assert match, f"no authorize link on the install page: {body[:300]}"
        url = html.unescape(match.group(1))
        state = parse_qs(urlparse(url).query)["state"][0]
        morsel = resp.cookies.get(COOKIE)
        return InstallPage(status=resp.status, authorize_url=url, state=state,
                           cookie=morsel.value if morsel is not None else None)


async def redirect(server: TestServer, *, code: str | None, state: str | None,
                   cookie: str | None) -> tuple[int, str]:
    """GET /slack/oauth_redirect as Slack sends the installer back; return status and page text."""
    params = {k: v for k, v in (("code", code), ("state", state)) if v is not None}
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
    async with aiohttp.ClientSession() as http, \
            http.get(server.make_url("/slack/oauth_redirect"), params=params, headers=headers) as resp:
        return resp.status, await resp.text()


async def install(server: TestServer, code: str) -> tuple[int, str]:
    """Run the whole install: the page, "Allow" (the fake's ``code``), and the redirect back."""
    page = await open_install(server)
    return await redirect(server, code=code, state=page.state, cookie=page.cookie)
