"""Slack distributed over OAuth: two workspaces installed through /slack/install, each answered and
sent to with its own token (read from the fake Web API's log), uninstall, refused states, rotation.

Real aiohttp app, real Bolt AsyncOAuthFlow and authorize, real slack_sdk SQLAlchemy stores on the
test database, fake Slack Web API on loopback playing oauth.v2.access.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select, update

from adapters.http import create_app
from adapters.slack.gateway import gateway_from_core
from bot.core import Core
from bot.messages import Message
from bot.services.delivery import deliver_due
from bot.services.evaluation import evaluate
from bot.services.outbox import enqueue, enqueue_direct
from bot.settings import Settings
from bot.store.models import Measurement, Route, Target, User
from bot.store.outbox import OutboxItem, OutboxStatus
from bot.store.workspaces import (
    installed_workspaces,
    slack_bots,
    slack_installations,
    slack_oauth_states,
)
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_oauth import install, open_install, redirect
from tests.fakes.slack_requests import block_action, event, sign, slash_command

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STATE_SECRET = "liaison-state-secret-for-tests"
ACME, GLOBEX = "T0ACME", "T0GLOBEX"


@pytest.fixture
async def slack():
    fake = FakeSlackApi()
    fake.add_workspace(ACME, name="Acme", channels=("C0ACME", "C0SHARED"))
    fake.add_workspace(GLOBEX, name="Globex", channels=("C0GLOBEX", "C0SHARED"))
    await fake.start()
    yield fake
    await fake.stop()


def oauth_settings(db_url: str, slack: FakeSlackApi) -> Settings:
    return Settings(_env_file=None, database_url=db_url, slack_signing_secret=SecretStr(SECRET),
                    slack_api_url=slack.base_url + "api/", slack_client_id=slack.client_id,
                    slack_client_secret=SecretStr(slack.client_secret), slack_state_secret=SecretStr(STATE_SECRET),
                    slack_pace_seconds=0)


@pytest.fixture
async def world(db, make_partner):
    """Acme lives in workspace T0ACME, Globex in T0GLOBEX; U0SAME exists in both: two people."""
    acme = await make_partner("acme", name="Acme CX", tz="Europe/Berlin")
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo", sites=("saopaulo",))
    async with db.transaction() as s:
        for p in (acme, globex):
            s.add(Target(partner_id=p.id, key="sl", metric="service_level", comparator=">=", target_value=80,
                         window="week", min_volume=10, channel="voice"))
            t = datetime(2026, 11, 10, 9, tzinfo=UTC)
            s.add(Measurement(partner_id=p.id, scope_site=0, channel="voice", metric="service_level",
                              period_start=t, period_end=t + timedelta(minutes=15), num=70, den=100, ingested_at=t))
        s.add(Route(partner_id=acme.id, purpose="alerts", platform="slack", destination=f"{ACME}/C0ACME"))
        s.add(Route(partner_id=globex.id, purpose="alerts", platform="slack", destination=f"{GLOBEX}/C0GLOBEX"))
        s.add(User(platform="slack", platform_user_id=f"{ACME}/U0LEAD", name="Lead", role="admin"))
        s.add(User(platform="slack", platform_user_id=f"{ACME}/U0SAME", name="Ana (Acme)", role="partner",
                   partner_id=acme.id))
        s.add(User(platform="slack", platform_user_id=f"{GLOBEX}/U0SAME", name="Gil (Globex)", role="partner",
                   partner_id=globex.id))
    return {"acme": acme, "globex": globex}


@pytest.fixture
async def app(db, clock, slack, world):
    core = Core(db=db, settings=oauth_settings(db.url, slack), clock=clock)
    server = TestServer(create_app(core), host="127.0.0.1")
    await server.start_server()
    server.core = core  # type: ignore[attr-defined]
    yield server
    await server.close()


async def post(server, body: str, ctype: str, *, headers: dict | None = None):  # noqa: ANN001
    hdrs = {"Content-Type": ctype, **(sign(SECRET, body) if headers is None else headers)}
    async with aiohttp.ClientSession() as http, \
            http.post(server.make_url("/slack/events"), data=body.encode(), headers=hdrs) as resp:
        return resp.status, await resp.text()


async def install_both(app, slack) -> None:  # noqa: ANN001
    for team in (ACME, GLOBEX):
        status, page = await install(app, slack.workspaces[team].code)
        assert status == 200, page


async def stored_bots(db) -> dict[str, str]:  # noqa: ANN001
    async with db.session() as s:
        rows = (await s.execute(select(slack_bots.c.team_id, slack_bots.c.bot_token))).all()
    return {team: token for team, token in rows}


async def eventually(check, within: float = 5.0) -> None:  # noqa: ANN001
    """Wait until the async ``check()`` holds (work Bolt does after acknowledging)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def live_token(slack: FakeSlackApi, team: str) -> str:
    (token,) = [t for t, owner in slack.tokens.items() if owner == team][-1:]
    return token


# --- installing ------------------------------------------------------------------------------------

async def test_oauth_install_two_workspaces_stores_each_token_in_liaison_database(app, slack, db):
    await install_both(app, slack)
    exchanges = slack.of("oauth.v2.access")
    assert sorted(c.body["code"] for c in exchanges) == [f"code-{ACME}", f"code-{GLOBEX}"]
    bots = await stored_bots(db)
    assert bots == {ACME: live_token(slack, ACME), GLOBEX: live_token(slack, GLOBEX)}
    async with db.session() as s:
        assert await installed_workspaces(s) == {ACME, GLOBEX}
        teams = (await s.execute(select(slack_installations.c.team_id, slack_installations.c.team_name))).all()
        # the state of each install was consumed
        assert (await s.execute(select(slack_oauth_states))).all() == []
    assert sorted(teams) == [(ACME, "Acme"), (GLOBEX, "Globex")]


async def test_oauth_install_page_links_to_slack_with_liaison_scopes_and_a_signed_state(app, slack):
    page = await open_install(app)
    assert page.status == 200 and page.cookie == page.state
    assert f"client_id={slack.client_id}" in page.authorize_url
    assert ("scope=commands,chat:write,chat:write.public,im:write,files:write,"
            "channels:history,groups:history,im:history,mpim:history") in page.authorize_url
    raw, _, signature = page.state.rpartition(".")
    assert raw and len(signature) == 32


@pytest.mark.parametrize("case", ["forged", "other_secret", "absent", "no_cookie", "expired", "replayed"])
async def test_oauth_redirect_with_bad_state_is_refused_and_nothing_installed(app, slack, db, case):
    page = await open_install(app)
    code = slack.workspaces[ACME].code
    state, cookie = page.state, page.cookie
    if case == "forged":
        state = cookie = "4c1f0e8e-0000-4000-8000-000000000000.0123456789abcdef0123456789abcdef"
    elif case == "other_secret":  # a real state of another deployment: right shape, wrong signature
        raw = page.state.rpartition(".")[0]
        state = cookie = f"{raw}.{'f' * 32}"
    elif case == "absent":
        state = None
    elif case == "no_cookie":
        cookie = None
    elif case == "expired":
        async with db.transaction() as s:
            await s.execute(update(slack_oauth_states).values(expire_at=datetime(2020, 1, 1)))
    elif case == "replayed":
        assert (await redirect(app, code=code, state=state, cookie=cookie))[0] == 200
        async with db.transaction() as s:
            await s.execute(slack_bots.delete())
            await s.execute(slack_installations.delete())
        slack.calls.clear()
    status, _ = await redirect(app, code=code, state=state, cookie=cookie)
    assert status in (400, 401)
    assert slack.of("oauth.v2.access") == []
    assert await stored_bots(db) == {}


# --- inbound: each request with its team's token ---------------------------------------------------------

async def test_oauth_commands_from_each_workspace_use_that_workspaces_token(app, slack):
    await install_both(app, slack)
    for team in (ACME, GLOBEX):
        body, ctype = slash_command("/escalate", "", user="U0SAME", team=team, response_url=slack.response_url(team),
                                    trigger_id=f"trig-{team}")
        assert (await post(app, body, ctype))[0] == 200
        await slack.wait_for(lambda f, t=team: any(c.body.get("trigger_id") == f"trig-{t}" for c in f.of("views.open")))
    opened = {c.body["trigger_id"]: c.token for c in slack.of("views.open")}
    assert opened == {f"trig-{ACME}": live_token(slack, ACME), f"trig-{GLOBEX}": live_token(slack, GLOBEX)}
    # Bolt's authorize checked each token against its own team too
    assert {c.token for c in slack.of("auth.test")} >= {live_token(slack, ACME), live_token(slack, GLOBEX)}


async def test_oauth_buttons_from_each_workspace_post_with_that_workspaces_token(app, slack):
    await install_both(app, slack)
    for team, channel in ((ACME, "C0ACME"), (GLOBEX, "C0GLOBEX")):
        body, ctype = block_action("share_in_channel", "kpi sl last-week", user="U0LEAD" if team == ACME else "U0SAME",
                                   team=team, channel=channel, response_url=slack.response_url(team))
        assert (await post(app, body, ctype))[0] == 200
        await slack.wait_for(lambda f, c=channel: any(p.body.get("channel") == c for p in f.of("chat.postMessage")))
    posts = {c.body["channel"]: (c.token, c) for c in slack.of("chat.postMessage")}
    assert posts["C0ACME"][0] == live_token(slack, ACME)
    assert posts["C0GLOBEX"][0] == live_token(slack, GLOBEX)


async def test_oauth_request_from_a_workspace_that_never_installed_is_not_served(app, slack):
    await install(app, slack.workspaces[ACME].code)
    slack.calls.clear()
    body, ctype = slash_command("/escalate", "", user="U0SAME", team=GLOBEX, response_url=slack.response_url())
    status, text = await post(app, body, ctype)
    # Bolt's authorize finds no installation: no listener runs, the user is asked to (re)install
    assert slack.of("views.open") == [] and slack.of("auth.test") == []
    assert "reinstall this app" in text + json.dumps(slack.responses)


# --- identities across workspaces ----------------------------------------------------------------------

async def test_oauth_same_user_id_in_two_workspaces_is_two_people_each_seeing_only_their_partner(app, slack):
    await install_both(app, slack)
    answers = {}
    for team, ask in ((ACME, "globex"), (ACME, "acme"), (GLOBEX, "acme"), (GLOBEX, "globex")):
        name = f"{team}-{ask}"
        body, ctype = slash_command("/kpi", ask, user="U0SAME", team=team, response_url=slack.response_url(name))
        await post(app, body, ctype)
        await slack.wait_for(lambda f, n=name: len(f.responses) == len(answers) + 1)
        answers[name] = slack.responses[-1]["text"]
    # refused like a missing name: neither learns the other partner exists
    refusal = "is not a partner, metric or window I know"
    assert refusal in answers[f"{ACME}-globex"] and refusal in answers[f"{GLOBEX}-acme"]
    assert "Globex CX" not in answers[f"{ACME}-globex"] and "Acme CX" not in answers[f"{GLOBEX}-acme"]
    assert "Not allowed" not in answers[f"{ACME}-acme"] and "Acme CX" in answers[f"{ACME}-acme"]
    assert "Not allowed" not in answers[f"{GLOBEX}-globex"] and "Globex CX" in answers[f"{GLOBEX}-globex"]


async def test_oauth_bare_user_id_identity_does_not_match_a_workspace_user(app, slack, db):
    # A single-workspace identity ("U0OLD") must not grant anything to U0OLD of some installed workspace.
    async with db.transaction() as s:
        s.add(User(platform="slack", platform_user_id="U0OLD", name="Old", role="client"))
    await install_both(app, slack)
    body, ctype = slash_command("/kpi", "", user="U0OLD", team=ACME, response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.responses)
    assert "Ask a Liaison admin to add you" in slack.responses[0]["text"]


async def test_oauth_slack_connect_user_of_other_workspace_acts_as_their_own_identity(app, slack):
    # C0SHARED is shared by both workspaces; the press reaches Acme's installation from a Globex user.
    await install_both(app, slack)
    for ask in ("globex", "acme"):
        body, ctype = block_action("share_in_channel", f"kpi {ask}", user="U0SAME", team=ACME, user_team=GLOBEX,
                                   channel="C0SHARED", response_url=slack.response_url(ask))
        await post(app, body, ctype)
    await slack.wait_for(lambda f: len(f.of("chat.postMessage")) + len(f.responses) >= 2)
    shared = [c for c in slack.of("chat.postMessage") if c.body["channel"] == "C0SHARED"]
    assert len(shared) == 1 and shared[0].token == live_token(slack, ACME)
    assert "Globex CX" in json.dumps(shared[0].body) and "Acme CX" not in json.dumps(shared[0].body)
    assert any("is not a partner, metric or window I know" in r.get("text", "") for r in slack.responses)


async def test_oauth_shared_channel_route_is_posted_through_the_workspace_it_names(app, slack, db):
    await install_both(app, slack)
    core = app.core
    async with db.transaction() as s:
        for team in (GLOBEX, ACME):
            await enqueue(s, platform="slack", destination=f"{team}/C0SHARED", message=Message(title=f"via {team}"),
                          key=f"shared-{team}", now=core.clock.now())
    report = await deliver_due(core, {"slack": gateway_from_core(core)})
    assert report.sent == 2
    posts = sorted((c.body["text"], c.token) for c in slack.of("chat.postMessage"))
    assert posts == [(f"via {ACME}", live_token(slack, ACME)), (f"via {GLOBEX}", live_token(slack, GLOBEX))]


# --- outbox: each message with its workspace's token --------------------------------------------------

async def test_oauth_alerts_for_each_partner_are_delivered_with_their_workspaces_token(app, slack, db):
    await install_both(app, slack)
    core = app.core
    report = await evaluate(core)
    assert report is not None
    async with db.transaction() as s:
        ana = (await s.execute(select(User).where(User.platform_user_id == f"{GLOBEX}/U0SAME"))).scalar_one()
        await enqueue_direct(s, user=ana, message=Message(title="Hello Gil"), key="dm-gil", now=core.clock.now())
    delivered = await deliver_due(core, {"slack": gateway_from_core(core)})
    assert delivered.dead == 0 and delivered.sent >= 3
    by_channel = {c.body["channel"]: c.token for c in slack.of("chat.postMessage")}
    assert by_channel["C0ACME"] == live_token(slack, ACME)
    assert by_channel["C0GLOBEX"] == live_token(slack, GLOBEX)
    (dm_open,) = slack.of("conversations.open")
    assert dm_open.body["users"] == "U0SAME" and dm_open.token == live_token(slack, GLOBEX)
    async with db.session() as s:
        rows = (await s.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars().all()
    assert {r.workspace for r in rows} == {ACME, GLOBEX}
    assert all(r.status == OutboxStatus.SENT and r.ref.startswith(f"{r.workspace}/") for r in rows)


async def test_oauth_update_of_a_delivered_message_uses_its_workspaces_token(app, slack, db):
    await install_both(app, slack)
    core = app.core
    async with db.transaction() as s:
        await enqueue(s, platform="slack", destination=f"{GLOBEX}/C0GLOBEX", message=Message(title="v1"),
                      key="m1", now=core.clock.now())
        await enqueue(s, platform="slack", destination=f"{GLOBEX}/C0GLOBEX", message=Message(title="v2"),
                      key="m1-edit", now=core.clock.now(), update_of="m1")
    gateway = gateway_from_core(core)
    await deliver_due(core, {"slack": gateway})
    await deliver_due(core, {"slack": gateway})  # the edit waits for its original's ref
    (edit,) = slack.of("chat.update")
    assert edit.body["channel"] == "C0GLOBEX" and edit.token == live_token(slack, GLOBEX)


async def test_oauth_message_to_a_route_without_workspace_is_a_dead_letter_saying_how_to_fix(app, slack, db):
    await install_both(app, slack)
    core = app.core
    async with db.transaction() as s:
        await enqueue(s, platform="slack", destination="C0ACME", message=Message(title="x"), key="bare",
                      now=core.clock.now())
    report = await deliver_due(core, {"slack": gateway_from_core(core)})
    assert report.dead == 1 and slack.of("chat.postMessage") == []
    async with db.session() as s:
        row = (await s.execute(select(OutboxItem))).scalar_one()
    assert "T0123ABCD/C0123ABCD" in row.last_error


# --- uninstall ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["app_uninstalled", "tokens_revoked"])
async def test_oauth_uninstall_of_one_workspace_buries_its_queue_and_keeps_the_other(app, slack, db, how):
    await install_both(app, slack)
    core = app.core
    async with db.transaction() as s:
        for team, channel in ((ACME, "C0ACME"), (GLOBEX, "C0GLOBEX")):
            await enqueue(s, platform="slack", destination=f"{team}/{channel}", message=Message(title=f"to {team}"),
                          key=f"q-{team}", now=core.clock.now())
    slack.revoke(GLOBEX)
    payload = {"type": "app_uninstalled"} if how == "app_uninstalled" else \
        {"type": "tokens_revoked", "tokens": {"bot": [f"U0BOT{GLOBEX}"]}}
    body, ctype = event(payload, event_id=f"Ev-{how}", team=GLOBEX)
    assert (await post(app, body, ctype))[0] == 200

    async def forgotten() -> bool:  # Bolt runs event listeners after the 200 ack
        async with db.session() as s:
            rows = (await s.execute(select(OutboxItem.status).where(OutboxItem.workspace == GLOBEX))).scalars()
            teams = (await s.execute(select(slack_installations.c.team_id))).scalars().all()
            return list(rows) == [OutboxStatus.DEAD] and teams == [ACME]

    await eventually(forgotten)
    assert set(await stored_bots(db)) == {ACME}
    async with db.session() as s:
        queued = {r.workspace: r for r in (await s.execute(select(OutboxItem))).scalars().all()}
    assert queued[GLOBEX].status == OutboxStatus.DEAD and f"workspace {GLOBEX}" in queued[GLOBEX].last_error
    assert queued[ACME].status == OutboxStatus.PENDING

    # a message queued after the uninstall dies with the reason too; Acme's is still delivered
    async with db.transaction() as s:
        await enqueue(s, platform="slack", destination=f"{GLOBEX}/C0GLOBEX", message=Message(title="late"),
                      key="late", now=core.clock.now())
    report = await deliver_due(core, {"slack": gateway_from_core(core)})
    assert report.sent == 1 and report.dead == 1
    assert [(c.body["channel"], c.token) for c in slack.of("chat.postMessage")] == [("C0ACME", live_token(slack, ACME))]

    # the admin sees why on App Home (published with Acme's token)
    body, ctype = event({"type": "app_home_opened", "user": "U0LEAD", "tab": "home"}, event_id="Ev-home", team=ACME)
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.of("views.publish"))
    (home,) = slack.of("views.publish")
    text = json.dumps(home.body["view"])
    assert home.token == live_token(slack, ACME)
    assert f"workspace {GLOBEX}" in text and "/slack/install" in text and "is not installed" in text


# --- token rotation -----------------------------------------------------------------------------------

async def test_oauth_expiring_token_is_rotated_once_and_both_paths_use_the_new_one(app, slack, db):
    slack.rotation_expires_in = 60  # Slack's rotating tokens; this one expires within Bolt's 120-minute window
    status, _ = await install(app, slack.workspaces[ACME].code)
    assert status == 200
    first = live_token(slack, ACME)
    body, ctype = slash_command("/escalate", "", user="U0SAME", team=ACME, response_url=slack.response_url())
    await post(app, body, ctype)
    await slack.wait_for(lambda f: f.of("views.open"))
    refreshes = [c for c in slack.of("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    rotated = (await stored_bots(db))[ACME]
    assert rotated != first and slack.of("views.open")[0].token == rotated

    core = app.core
    async with db.transaction() as s:
        await enqueue(s, platform="slack", destination=f"{ACME}/C0ACME", message=Message(title="x"), key="r",
                      now=core.clock.now())
    await deliver_due(core, {"slack": gateway_from_core(core)})
    assert slack.of("chat.postMessage")[0].token == rotated
    assert len([c for c in slack.of("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"]) == 1


async def test_oauth_outbox_rotates_an_expiring_token_before_sending(app, slack, db):
    slack.rotation_expires_in = 60
    await install(app, slack.workspaces[GLOBEX].code)
    first = live_token(slack, GLOBEX)
    core = app.core
    async with db.transaction() as s:
        await enqueue(s, platform="slack", destination=f"{GLOBEX}/C0GLOBEX", message=Message(title="x"), key="r",
                      now=core.clock.now())
    report = await deliver_due(core, {"slack": gateway_from_core(core)})
    assert report.sent == 1
    rotated = (await stored_bots(db))[GLOBEX]
    assert rotated != first and slack.of("chat.postMessage")[0].token == rotated
    async with db.session() as s:
        stored = (await s.execute(select(slack_installations.c.bot_token))).scalars().all()
    assert stored == [rotated]  # installation and bot rows agree, so Bolt's authorize sees it too


# --- what the app declares and stores ------------------------------------------------------------------

def test_oauth_tables_match_slack_sdks_own_definitions_column_for_column():
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
    from sqlalchemy import MetaData

    theirs = MetaData()
    pairs = [(SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"), slack_installations),
             (SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"), slack_bots),
             (SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"), slack_oauth_states)]

    def shape(table):  # noqa: ANN001, ANN202
        return ([(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns],
                sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes))

    for sdk_table, ours in pairs:
        assert shape(ours) == shape(sdk_table), ours.name


def test_oauth_scopes_are_the_manifests_bot_scopes():
    from pathlib import Path

    import yaml

    from adapters.slack.oauth import BOT_SCOPES

    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yaml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


def test_manifest_with_oauth_adds_redirect_url_uninstall_events_and_rotation():
    import yaml

    from adapters.cli.manifest import slack_manifest

    plain = yaml.safe_load(slack_manifest("https://liaison.example.org"))
    assert "redirect_urls" not in plain["oauth_config"]
    assert plain["settings"]["token_rotation_enabled"] is False
    oauth = yaml.safe_load(slack_manifest("https://liaison.example.org/", oauth=True, token_rotation=True))
    assert oauth["oauth_config"]["redirect_urls"] == ["https://liaison.example.org/slack/oauth_redirect"]
    assert oauth["oauth_config"]["scopes"] == plain["oauth_config"]["scopes"]
    assert oauth["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened", "app_uninstalled",
                                                                      "tokens_revoked"]
    assert oauth["settings"]["token_rotation_enabled"] is True
    with pytest.raises(ValueError, match="needs --oauth"):
        slack_manifest("https://liaison.example.org", token_rotation=True)


def test_manifest_cli_oauth_prints_the_redirect_url(capsys):
    from adapters.cli import main

    assert main(["manifest", "slack", "--url", "https://liaison.example.org", "--oauth"]) == 0
    assert "    - https://liaison.example.org/slack/oauth_redirect\n" in capsys.readouterr().out


def test_oauth_half_configured_names_what_is_missing_and_keeps_the_single_token_app(db, clock, slack, caplog):
    settings = Settings(_env_file=None, database_url=db.url, slack_signing_secret=SecretStr(SECRET),
                        slack_bot_token=SecretStr("xoxb-single"), slack_client_id="1.2",
                        slack_api_url=slack.base_url + "api/")
    assert settings.slack_oauth_missing() == ["SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET"]
    app = create_app(Core(db=db, settings=settings, clock=clock))
    routes = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert "/slack/events" in routes and "/slack/install" not in routes
    assert "set SLACK_CLIENT_SECRET and SLACK_STATE_SECRET too" in caplog.text
