"""Distribute the Slack app: OAuth installs, per-workspace tokens and rotation, on Liaison's database.

Bolt's ``AsyncOAuthFlow`` runs /slack/install and /slack/oauth_redirect; slack_sdk's SQLAlchemy
stores keep installations and OAuth states in the tables of bot/store/workspaces.py (created by
Alembic). Inbound requests are authorized per team by Bolt; the outbox gateway asks
``WorkspaceTokens`` for the token of the workspace a message goes to.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Core
from bot.store.workspaces import BOTS_TABLE, INSTALLATIONS_TABLE, STATES_TABLE

log = logging.getLogger(__name__)

# The bot scopes manifest.yaml asks for (tests/test_slack_oauth.py keeps the two in step).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "im:write", "files:write",
              "channels:history", "groups:history", "im:history", "mpim:history")
# An install link is good for ten minutes (Slack's own examples use the same).
STATE_EXPIRATION_SECONDS = 600
# Rotate a bot token when it expires within this many minutes (Bolt's default).
ROTATION_MINUTES = 120
# The outbox reuses a workspace's token this long before reading it again (a burst of alerts costs
# one lookup per workspace, not one per call); far inside the rotation window, so never stale.
TOKEN_CACHE_SECONDS = 30


class SignedStateStore(AsyncOAuthStateStore):
    """Issue OAuth states signed with SLACK_STATE_SECRET and kept in the database until consumed.

    A state that does not carry this deployment's signature is refused before any lookup;
    a signed one must still be in the table, unexpired, and is deleted as it is used.
    """

    def __init__(self, inner: AsyncSQLAlchemyOAuthStateStore, *, secret: str) -> None:
        self.inner = inner
        self._secret = secret.encode()

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, state: str) -> str:
        return hmac.new(self._secret, state.encode(), hashlib.sha256).hexdigest()[:32]

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        state = await self.inner.async_issue()
        return f"{state}.{self._sign(state)}"

    async def async_consume(self, state: str) -> bool:
        raw, _, signature = (state or "").rpartition(".")
        if not raw or not hmac.compare_digest(signature, self._sign(raw)):
            log.warning("refused an OAuth state without a valid signature")
            return False
        return await self.inner.async_consume(raw)


def installation_store(core: Core) -> AsyncSQLAlchemyInstallationStore:
    """Return slack_sdk's installation store on Liaison's own engine and tables."""
    return AsyncSQLAlchemyInstallationStore(
        client_id=core.settings.slack_client_id, engine=core.db.engine,
        bots_table_name=BOTS_TABLE, installations_table_name=INSTALLATIONS_TABLE)


def state_store(core: Core) -> SignedStateStore:
    """Return the signed OAuth state store on Liaison's database."""
    secret = core.settings.slack_state_secret
    assert secret is not None, "OAuth needs SLACK_STATE_SECRET"
    inner = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_EXPIRATION_SECONDS, engine=core.db.engine,
                                           table_name=STATES_TABLE)
    return SignedStateStore(inner, secret=secret.get_secret_value())


def oauth_settings(core: Core, *, client: AsyncWebClient) -> AsyncOAuthSettings:
    """Build Bolt's OAuth settings: client credentials, scopes, the two stores, rotation window."""
    settings = core.settings
    assert settings.slack_client_secret is not None
    secret = settings.slack_client_secret.get_secret_value()
    store = installation_store(core)
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id, client_secret=secret, scopes=list(BOT_SCOPES),
        installation_store=store, state_store=state_store(core),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS, token_rotation_expiration_minutes=ROTATION_MINUTES)
    # Bolt's default authorize refreshes tokens through a client of its own on slack.com; give it
    # the app's client so rotation goes to SLACK_API_URL like every other call.
    oauth.authorize = AsyncInstallationStoreAuthorize(
        logger=log, client_id=settings.slack_client_id, client_secret=secret,
        token_rotation_expiration_minutes=ROTATION_MINUTES, installation_store=store, client=client)
    return oauth


class WorkspaceTokens:
    """Find the bot token of a workspace for outgoing messages, rotating it when it is expiring.

    Rotation follows Bolt's authorize: the refreshed installation is saved back (installation
    and bot rows together), so inbound requests and the outbox see the same current token.
    """

    def __init__(self, core: Core, *, client: AsyncWebClient) -> None:
        settings = core.settings
        assert settings.slack_client_secret is not None
        self.clock = core.clock
        self._cache: dict[str, tuple[str, datetime]] = {}
        self.store = installation_store(core)
        self.rotator = AsyncTokenRotator(client_id=settings.slack_client_id,
                                         client_secret=settings.slack_client_secret.get_secret_value(),
                                         client=client)

    async def token(self, workspace: str) -> str | None:
        """Return the bot token installed in ``workspace`` (a team id), or None when not installed."""
        now = self.clock.now()
        cached = self._cache.get(workspace)
        if cached is not None and cached[1] > now:
            return cached[0]
        self._cache.pop(workspace, None)
        installation = await self.store.async_find_installation(enterprise_id=None, team_id=workspace)
        if installation is None or installation.bot_token is None:
            return None
        token = installation.bot_token
        if installation.bot_refresh_token:
            refreshed = await self.rotator.perform_token_rotation(installation=installation,
                                                                  minutes_before_expiration=ROTATION_MINUTES)
            if refreshed is not None:
                await self.store.async_save(refreshed)
                token = refreshed.bot_token
        self._cache[workspace] = (token, now + timedelta(seconds=TOKEN_CACHE_SECONDS))
        return token
