"""Dashboard sign-in tokens, the `dashboard` command and the Open-dashboard buttons."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from bot.actions import ActionId
from bot.commands import dispatch
from bot.compose.dashboard import ASK_FOR_LINK
from bot.domain.access import Actor
from bot.interactions import Press, handle_action
from bot.messages import Message
from bot.services.dashboard_links import (
    LINK,
    SESSION,
    TokenExpired,
    TokenInvalid,
    login_link,
    session_token,
    verify,
)
from bot.services.digest import build_digest, moment_after_week
from bot.services.home import home_message
from bot.settings import Settings

SETTINGS = Settings(_env_file=None, dashboard_secret="s3cret-for-tests", public_url="https://liaison.example.org")


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["t"][0]


def test_login_link_verifies_until_its_expiry_then_says_expired(clock):
    url, expires = login_link(SETTINGS, platform="slack", platform_user_id="U1", now=clock.now())
    assert url.startswith("https://liaison.example.org/dashboard/login?t=")
    assert expires == clock.now() + timedelta(minutes=15)
    identity = verify(SETTINGS, _token(url), purpose=LINK, now=expires - timedelta(seconds=1))
    assert (identity.platform, identity.platform_user_id, identity.path) == ("slack", "U1", "/dashboard/")
    with pytest.raises(TokenExpired) as info:
        verify(SETTINGS, _token(url), purpose=LINK, now=expires)
    assert info.value.expired_at == expires


@pytest.mark.parametrize("change", ["payload", "signature", "secret", "purpose", "truncated"])
def test_verify_tampered_or_foreign_token_is_invalid(clock, change):
    token = _token(login_link(SETTINGS, platform="slack", platform_user_id="U1", now=clock.now())[0])
    payload, _, signature = token.partition(".")
    settings, purpose = SETTINGS, LINK
    if change == "payload":  # e.g. another user id with the old signature
        token = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    elif change == "signature":
        token = f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    elif change == "secret":
        settings = Settings(_env_file=None, dashboard_secret="another-secret")
    elif change == "purpose":  # a link is not a session
        purpose = SESSION
    else:
        token = payload
    with pytest.raises(TokenInvalid):
        verify(settings, token, purpose=purpose, now=clock.now())


def test_session_token_lasts_the_configured_hours(clock):
    settings = SETTINGS.model_copy(update={"dashboard_session_hours": 2.0})
    link = verify(settings, _token(login_link(settings, platform="teams", platform_user_id="29:x", now=clock.now())[0]),
                  purpose=LINK, now=clock.now())
    token, expires = session_token(settings, link, now=clock.now())
    assert expires == clock.now() + timedelta(hours=2)
    assert verify(settings, token, purpose=SESSION, now=clock.now()).platform_user_id == "29:x"
    with pytest.raises(TokenInvalid):
        verify(settings, token, purpose=LINK, now=clock.now())


def test_settings_default_session_is_12_hours():
    assert Settings(_env_file=None).dashboard_session_hours == 12.0


async def test_dashboard_command_links_the_asker_and_refuses_other_partners(core, make_partner, make_user):
    acme = await make_partner("acme", name="Acme CX")
    await make_partner("globex", name="Globex CX")
    partner_user = await make_user("U-ACME", role="partner", partner=acme, platform="slack")
    client = await make_user("U-LEAD", role="client", platform="teams")
    for actor, platform in ((partner_user, "slack"), (client, "teams")):
        reply = await dispatch(core, text="dashboard", actor=actor, platform=platform)
        identity = verify(core.settings, _token(reply.actions[0].url), purpose=LINK, now=core.clock.now())
        assert (identity.platform, identity.platform_user_id) == (actor.platform, actor.platform_user_id)
    reply = await dispatch(core, text="", actor=client, platform="slack", slash="/dashboard")
    assert reply.actions[0].url
    page = await dispatch(core, text="dashboard globex", actor=client, platform="teams")
    assert verify(core.settings, _token(page.actions[0].url), purpose=LINK, now=core.clock.now()).path \
        == "/dashboard/p/globex"
    refused = await dispatch(core, text="dashboard globex", actor=partner_user, platform="slack")
    assert not any(a.url for a in refused.actions) and "login" not in repr(refused)
    stranger = await dispatch(core, text="dashboard", actor=Actor(platform="slack", platform_user_id="U-NEW"),
                              platform="slack")
    assert "not set up in Liaison" in repr(stranger) and "login" not in repr(stranger)


async def test_digest_button_answers_the_presser_with_their_own_link(core, db, make_partner, make_user):
    acme = await make_partner("acme", name="Acme CX")
    viewer = await make_user("U-VIEW", role="client", platform="slack")
    async with db.session() as s:
        _, digest = await build_digest(s, partner=acme, now=moment_after_week("2026-W46", acme.timezone), chart=False)
    (button,) = [a for a in digest.actions if a.id is ActionId.OPEN_DASHBOARD]
    assert button.url is None and button.value == ASK_FOR_LINK  # a channel message: nobody's personal link
    result = await handle_action(core, Press(ActionId.OPEN_DASHBOARD, button.value, viewer, channel="C1"))
    assert isinstance(result.reply, Message)
    identity = verify(core.settings, _token(result.reply.actions[0].url), purpose=LINK, now=core.clock.now())
    assert identity.platform_user_id == "U-VIEW"


async def test_home_has_a_personal_dashboard_link_button(core, make_partner, make_user):
    await make_partner("acme")
    viewer = await make_user("U-HOME", role="client", platform="slack")
    home = await home_message(core, viewer)
    (button,) = [a for a in home.actions if a.id is ActionId.OPEN_DASHBOARD]
    assert verify(core.settings, _token(button.url), purpose=LINK, now=core.clock.now()).platform_user_id == "U-HOME"


def test_teams_package_has_a_personal_dashboard_tab_on_the_host():
    from adapters.teams.package import teams_manifest

    manifest = teams_manifest(app_id="00000000-0000-0000-0000-000000000001", host="liaison.example.org")
    (tab,) = manifest["staticTabs"]
    assert tab["scopes"] == ["personal"] and tab["contentUrl"] == "https://liaison.example.org/dashboard/"
    assert "liaison.example.org" in manifest["validDomains"]
