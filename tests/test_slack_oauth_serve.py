"""Two real `liaison serve` replicas distributing the Slack app: an install through one is used by the
other at once (the installation store is Liaison's database), inbound and outbound per workspace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
import pytest
from sqlalchemy import select

from bot.messages import Message
from bot.ports import SystemClock
from bot.services import outbox
from bot.store.models import User
from bot.store.outbox import OutboxItem, OutboxStatus
from tests.fakes.serve import Replica
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_oauth import COOKIE
from tests.fakes.slack_requests import sign, slash_command

SECRET = "serve-signing-secret"
ACME, GLOBEX = "T0ACME", "T0GLOBEX"


async def _install(http: aiohttp.ClientSession, replica: Replica, code: str) -> int:
    async with http.get(f"{replica.url}/slack/install") as resp:
        state = resp.cookies[COOKIE].value
    async with http.get(f"{replica.url}/slack/oauth_redirect", params={"code": code, "state": state},
                        headers={"Cookie": f"{COOKIE}={state}"}) as resp:
        return resp.status


async def _wait(predicate, what: str, within: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.replicas
async def test_serve_replicas_share_installs_and_answer_and_deliver_per_workspace(db, db_url, tmp_path, make_partner):
    acme = await make_partner("acme")
    async with db.transaction() as s:
        for team in (ACME, GLOBEX):
            s.add(User(platform="slack", platform_user_id=f"{team}/U0X", name=f"X of {team}", role="partner",
                       partner_id=acme.id))
    slack = FakeSlackApi()
    slack.add_workspace(ACME, name="Acme", channels=("C0ACME",))
    slack.add_workspace(GLOBEX, name="Globex", channels=("C0GLOBEX",))
    await slack.start()
    env = {**os.environ, "LIAISON_DATABASE_URL": db_url, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_CLIENT_ID": slack.client_id, "SLACK_CLIENT_SECRET": slack.client_secret,
           "SLACK_STATE_SECRET": "serve-state-secret", "SLACK_API_URL": slack.base_url + "api/",
           "LIAISON_DELIVERY_INTERVAL_SECONDS": "0.3", "LIAISON_SLACK_PACE_SECONDS": "0",
           "LIAISON_EVALUATION_INTERVAL_MINUTES": "60"}
    env.pop("SLACK_BOT_TOKEN", None)
    replicas = [Replica(env, tmp_path / "serve-a.log"), Replica(env, tmp_path / "serve-b.log")]
    a, b = replicas
    try:
        async with aiohttp.ClientSession() as http:
            for replica in replicas:
                await replica.ready(http)
            # each workspace installs through a different replica
            assert await _install(http, a, slack.workspaces[ACME].code) == 200
            assert await _install(http, b, slack.workspaces[GLOBEX].code) == 200
            tokens = {team: [t for t, owner in slack.tokens.items() if owner == team] for team in (ACME, GLOBEX)}
            assert all(len(v) == 1 for v in tokens.values())

            # ... and each is answered by the other replica, with its own token
            for team, replica in ((ACME, b), (GLOBEX, a)):
                body, _ = slash_command("/escalate", "", user="U0X", team=team, trigger_id=f"trig-{team}",
                                        response_url=slack.response_url(team))
                async with http.post(f"{replica.url}/slack/events", data=body.encode(), headers={
                        "Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}) as resp:
                    assert resp.status == 200

            async def both_opened() -> bool:
                return len(slack.of("views.open")) == 2
            await _wait(both_opened, "a modal in each workspace")
            assert {c.body["trigger_id"]: c.token for c in slack.of("views.open")} == {
                f"trig-{ACME}": tokens[ACME][0], f"trig-{GLOBEX}": tokens[GLOBEX][0]}

        # outbox: one message per workspace, delivered once by whichever replica claims it
        now = SystemClock().now()
        async with db.transaction() as s:
            for team, channel in ((ACME, "C0ACME"), (GLOBEX, "C0GLOBEX")):
                await outbox.enqueue(s, platform="slack", destination=f"{team}/{channel}",
                                     message=Message(title=f"hello {team}"), key=f"hello-{team}", now=now)

        async def delivered() -> bool:
            async with db.session() as s:
                rows = (await s.execute(select(OutboxItem.status))).scalars().all()
            return rows == [OutboxStatus.SENT, OutboxStatus.SENT]
        await _wait(delivered, "both messages sent")
        posts = sorted((c.body["channel"], c.token) for c in slack.of("chat.postMessage"))
        assert posts == [("C0ACME", tokens[ACME][0]), ("C0GLOBEX", tokens[GLOBEX][0])]
        assert [r.stop() for r in replicas] == [0, 0]
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                os.kill(replica.proc.pid, signal.SIGKILL)
                replica.proc.wait(timeout=10)
        await slack.stop()
