"""Bot Framework JWT validation at /api/messages, with tokens signed by a local issuer whose keys the test serves.

The app runs with an app id (validation on) and LIAISON_TEAMS_OPENID_METADATA_URL pointed at
tests/fakes/token_issuer.py, so botbuilder's own JwtTokenExtractor fetches our JWKS and checks
signature, issuer, audience, expiry, endorsement and serviceurl claim for real.
"""

from __future__ import annotations

import json
import uuid

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.core import TurnContext
from pydantic import SecretStr
from sqlalchemy import func, select

from adapters.http import create_app
from adapters.teams.auth import make_adapter
from bot.core import Core
from bot.settings import Settings
from bot.store.conversations import ConversationRef
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.token_issuer import FakeTokenIssuer, new_key
from tests.hardening_counts import record

APP_ID = "11111111-2222-3333-4444-555555555555"
CONVERSATION = "19:acme-alerts@thread.tacv2"


@pytest.fixture
def issuer():
    fake = FakeTokenIssuer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def connector():
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


def settings_for(db, issuer: FakeTokenIssuer) -> Settings:  # noqa: ANN001
    return Settings(_env_file=None, database_url=db.url, microsoft_app_id=APP_ID,
                    microsoft_app_password=SecretStr("pw"), teams_openid_metadata_url=issuer.metadata_url)


@pytest.fixture
async def server(db, clock, issuer):
    srv = TestServer(create_app(Core(db=db, settings=settings_for(db, issuer), clock=clock)), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


def install(service_url: str) -> dict:
    """The conversationUpdate Teams sends when the bot is added to a team (it needs no reply)."""
    return {"type": "conversationUpdate", "id": f"f:{uuid.uuid4().hex}", "channelId": "msteams",
            "serviceUrl": service_url, "from": {"id": "29:installer", "aadObjectId": "aad-installer"},
            "recipient": {"id": "28:bot", "name": "Liaison"}, "membersAdded": [{"id": "28:bot"}],
            "conversation": {"id": CONVERSATION, "conversationType": "channel", "isGroup": True},
            "channelData": {"eventType": "teamMemberAdded", "team": {"id": CONVERSATION, "name": "Acme"},
                            "channel": {"id": CONVERSATION, "name": "acme-alerts"}, "tenant": {"id": "tenant-1"}}}


async def post(server: TestServer, body: dict, token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.post(server.make_url("/api/messages"), data=json.dumps(body),
                                                          headers=headers) as resp:
        return resp.status


async def stored(db) -> int:  # noqa: ANN001
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(ConversationRef))).scalar_one()


async def test_teams_auth_signed_token_accepted_and_install_stores_reference(server, issuer, db, connector):
    token = issuer.token(audience=APP_ID, service_url=connector.base_url)
    assert await post(server, install(connector.base_url), token) in (200, 201)
    assert "/keys" in issuer.requests  # botbuilder really fetched our signing keys
    async with db.session() as s:
        ref = (await s.execute(select(ConversationRef))).scalars().one()
    assert (ref.key, ref.name, ref.tenant_id) == (CONVERSATION, "acme-alerts", "tenant-1")
    assert connector.calls == []  # an install needs no answer


@pytest.mark.parametrize("forgery", ["missing", "not-a-jwt", "other-key", "unknown-kid", "wrong-audience",
                                     "expired", "other-service-url", "other-issuer", "unsigned"])
async def test_teams_auth_forged_or_missing_token_gets_401_without_side_effect(server, issuer, db, connector,
                                                                                forgery):
    good = {"audience": APP_ID, "service_url": connector.base_url}
    token = {
        "missing": None,
        "not-a-jwt": "not-a-jwt",
        "other-key": issuer.token(**good, key=new_key()),
        "unknown-kid": issuer.token(**good, key=new_key(), kid="someone-elses-key"),
        "wrong-audience": issuer.token(audience="99999999-0000-0000-0000-000000000000",
                                       service_url=connector.base_url),
        "expired": issuer.token(**good, expires_in=-3600),
        "other-service-url": issuer.token(audience=APP_ID, service_url="https://attacker.example/"),
        "other-issuer": issuer.token(**good, issuer="https://attacker.example"),
        "unsigned": jwt.encode({"iss": "https://api.botframework.com", "aud": APP_ID,
                                "serviceurl": connector.base_url}, key=None, algorithm="none"),
    }[forgery]
    message = dict(install(connector.base_url), type="message", text="kpi")
    assert await post(server, message, token) == 401
    assert await stored(db) == 0
    assert connector.calls == []
    record("forged", tried=1, rejected=1)


async def raw_cloud_adapter_statuses(settings: Settings, requests: list[tuple[dict, str | None]]) -> list[int]:
    """POST each (activity, token) through botbuilder's CloudAdapter.process with no guard of ours."""
    adapter = make_adapter(settings)

    class Bot:
        @staticmethod
        async def on_turn(context: TurnContext) -> None:
            pass

    async def handler(request: web.Request) -> web.Response:
        return await adapter.process(request, Bot())

    app = web.Application()
    app.router.add_post("/api/messages", handler)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        return [await post(srv, body, token) for body, token in requests]
    finally:
        await srv.close()


async def test_teams_auth_cloud_adapter_alone_refuses_missing_header_on_public_cloud_path(db, connector):
    """Pin what CloudAdapter.process does by itself on the default (public cloud) validator."""
    settings = Settings(_env_file=None, database_url=db.url, microsoft_app_id=APP_ID,
                        microsoft_app_password=SecretStr("pw"))
    assert await raw_cloud_adapter_statuses(settings, [(install(connector.base_url), None)]) == [401]


async def test_teams_auth_cloud_adapter_alone_500s_on_missing_header_and_unknown_key_when_parameterized(
        db, issuer, connector):
    """Why http.py authenticates first: these reach the caller as 500s, not 401s, through process()."""
    body = install(connector.base_url)
    forged = issuer.token(audience=APP_ID, service_url=connector.base_url, key=new_key(), kid="unknown")
    resigned = issuer.token(audience=APP_ID, service_url=connector.base_url, key=new_key())
    good = issuer.token(audience=APP_ID, service_url=connector.base_url)
    statuses = await raw_cloud_adapter_statuses(settings_for(db, issuer), [
        (body, None), (body, forged), (body, "not-a-jwt"), (body, resigned), (body, good)])
    # missing: AttributeError on a None identity; unknown kid: IndexError in _OpenIdMetadata._find;
    # not a JWT: jwt.DecodeError; another key under our kid: InvalidSignatureError
    assert statuses[:4] == [500, 500, 500, 500]
    assert statuses[4] in (200, 201)


@pytest.mark.parametrize(("changes", "message"), [
    ({"microsoft_app_type": "Tenant"}, "use MultiTenant, SingleTenant or UserAssignedMSI"),
    ({"microsoft_app_type": "SingleTenant"}, "needs MICROSOFT_APP_TENANT_ID"),
    ({"microsoft_app_password": None}, "MICROSOFT_APP_PASSWORD is not"),
])
def test_teams_adapter_refuses_incomplete_bot_settings_with_the_variable_to_set(changes, message):
    settings = Settings(_env_file=None, **{"microsoft_app_id": APP_ID, "microsoft_app_password": SecretStr("pw"),
                                           **changes})
    with pytest.raises(ValueError, match=message):
        make_adapter(settings)
    single = Settings(_env_file=None, microsoft_app_id=APP_ID, microsoft_app_password=SecretStr("pw"),
                      microsoft_app_type="SingleTenant", microsoft_app_tenant_id="tenant-1")
    assert make_adapter(single).bot_framework_authentication is not None
