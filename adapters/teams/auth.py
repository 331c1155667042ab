"""Bot Framework settings for CloudAdapter, and a guard in front of it."""

from __future__ import annotations

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot.settings import Settings


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id


def make_adapter(settings: Settings) -> CloudAdapter:
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings)))


def looks_like_bearer_jwt(header: str) -> bool:
    """Tell whether an Authorization header can even be a Bot Framework token (three JWT parts).

    CloudAdapter already refuses a missing header when an app id is set (PermissionError ->
    401), but a malformed one would send it to fetch signing keys first; refusing early keeps
    a forged request from costing an outbound call or reaching the bot at all.
    """
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token.count(".") == 2 and all(token.split("."))
