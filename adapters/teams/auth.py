"""Bot Framework settings for CloudAdapter, and the token check in front of every turn.

What CloudAdapter itself does (botbuilder 4.17, read from the installed source and pinned
in tests/test_teams_auth.py): ``CloudAdapter.process`` passes a missing Authorization header
on as ``""`` and maps only PermissionError to 401.
- Public cloud validator (the default): ``JwtTokenValidation.authenticate_request`` treats
  ``""`` as "no header" and, with an app id configured, raises PermissionError -> 401
  before any bot code runs.
- Parameterized validator (used when a metadata URL or issuer is configured): ``""`` yields
  a None identity and an AttributeError -> 500.
- Either way a forged token can escape as a 500: a non-JWT string raises jwt.DecodeError,
  an unknown key id an IndexError in ``_OpenIdMetadata._find``, a bad signature
  InvalidSignatureError.
So ``authenticate`` below runs the same validation before the turn and answers every
failure with 401; the turn then runs with its result (``process_activity``).
"""

from __future__ import annotations

import logging

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants

from bot.settings import Settings

log = logging.getLogger(__name__)


class Unauthorized(Exception):
    """The request carries no valid Bot Framework token."""


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
        self.APP_TYPE = canonical_app_type(settings.microsoft_app_type)
        self.APP_TENANTID = settings.microsoft_app_tenant_id
        if settings.teams_openid_metadata_url:
            # Any of these switches botbuilder to its parameterized validator, which then needs
            # every endpoint spelled out; keep the public-cloud ones except the signing keys.
            tenant = settings.microsoft_app_tenant_id if settings.microsoft_app_type == "SingleTenant" else ""
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.teams_openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = settings.teams_token_issuer
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = (AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
                                                  + (tenant or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT))
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            self.OAUTH_URL = AuthenticationConstants.OAUTH_URL


# Microsoft documents MicrosoftAppType as MultiTenant, SingleTenant or UserAssignedMSI (botbuilder reads
# exactly these); the portal calls the last one "User-Assigned Managed Identity", so that spelling is taken too.
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI",
             "usermanagedidentity": "UserAssignedMSI", "userassignedmanagedidentity": "UserAssignedMSI"}


def canonical_app_type(value: str) -> str:
    """Return the spelling botbuilder understands for a MICROSOFT_APP_TYPE (unknown values unchanged)."""
    return APP_TYPES.get(value.lower().replace("-", "").replace(" ", ""), value)


def make_adapter(settings: Settings) -> CloudAdapter:
    """Build the CloudAdapter; refuse settings botbuilder would reject with a vaguer message."""
    kind = canonical_app_type(settings.microsoft_app_type).lower()
    if kind not in APP_TYPES:
        raise ValueError(f"MICROSOFT_APP_TYPE is '{settings.microsoft_app_type}'; use MultiTenant, SingleTenant "
                         f"or UserAssignedMSI (as shown on the Azure Bot resource)")
    if settings.microsoft_app_id and kind != "multitenant" and not settings.microsoft_app_tenant_id:
        raise ValueError(f"MICROSOFT_APP_TYPE={settings.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID "
                         f"(the Directory (tenant) ID of the bot's app registration)")
    if settings.microsoft_app_id and kind != "userassignedmsi" and not settings.microsoft_app_password:
        raise ValueError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not (the app registration's "
                         "client secret value)")
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings)))


def looks_like_bearer_jwt(header: str) -> bool:
    """Tell whether an Authorization header can even be a Bot Framework token (three JWT parts)."""
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token.count(".") == 2 and all(token.split("."))


async def authenticate(adapter: CloudAdapter, activity: Activity, header: str, *,
                       required: bool) -> AuthenticateRequestResult:
    """Validate the request's token as CloudAdapter would; raise Unauthorized for any failure."""
    if required and not looks_like_bearer_jwt(header):
        # Refuse early: a malformed header must not cost a signing-key fetch.
        raise Unauthorized("missing or malformed Bot Framework token")
    try:
        return await adapter.bot_framework_authentication.authenticate_request(activity, header)
    except Exception as exc:  # noqa: BLE001 - botbuilder raises many types for a bad token (see module doc)
        log.warning("Teams request refused: %s: %s", exc.__class__.__name__, exc)
        raise Unauthorized("invalid Bot Framework token") from exc
