"""Settings from environment variables (and an optional ``.env``); secrets stay SecretStr."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///liaison.db", validation_alias=_env("LIAISON_DATABASE_URL"))
    ingest_token: SecretStr | None = Field(None, validation_alias=_env("LIAISON_INGEST_TOKEN"))
    ingest_max_bytes: int = Field(5_000_000, validation_alias=_env("LIAISON_INGEST_MAX_BYTES"))
    # files read whole (JSON exports, staffing files) by the CLI; a measurements CSV streams without a cap
    ingest_file_max_bytes: int = Field(25_000_000, ge=1, validation_alias=_env("LIAISON_INGEST_FILE_MAX_BYTES"))
    log_level: str = Field("INFO", validation_alias=_env("LIAISON_LOG_LEVEL"))

    # SLA evaluation and the delivery outbox
    evaluation_interval_minutes: int = Field(15, ge=1, validation_alias=_env("LIAISON_EVALUATION_INTERVAL_MINUTES"))
    followup_hours: float = Field(4.0, gt=0, validation_alias=_env("LIAISON_FOLLOWUP_HOURS"))
    delivery_horizon_hours: float = Field(24.0, gt=0, validation_alias=_env("LIAISON_DELIVERY_HORIZON_HOURS"))
    delivery_interval_seconds: float = Field(5.0, gt=0, validation_alias=_env("LIAISON_DELIVERY_INTERVAL_SECONDS"))
    # a worker owns claimed rows this long; after a crash they are retried once it lapses
    delivery_lease_seconds: float = Field(120.0, gt=0, validation_alias=_env("LIAISON_DELIVERY_LEASE_SECONDS"))
    # on SIGTERM, how long `serve` waits for job runs in progress (the send in flight) before exiting
    shutdown_grace_seconds: float = Field(30.0, gt=0, validation_alias=_env("LIAISON_SHUTDOWN_GRACE_SECONDS"))
    # run the schedule as if the wall clock were this many seconds later (earlier if negative): a
    # rehearsal of a Monday's digests or a QBR week on a test deployment; 0 in production
    clock_offset_seconds: float = Field(0.0, validation_alias=_env("LIAISON_CLOCK_OFFSET_SECONDS"))
    # Slack allows about one message per second per channel
    slack_pace_seconds: float = Field(1.0, ge=0, validation_alias=_env("LIAISON_SLACK_PACE_SECONDS"))

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    # OAuth distribution (several workspaces): all three set -> /slack/install and /slack/oauth_redirect,
    # tokens per workspace from the database; SLACK_BOT_TOKEN is then not used.
    slack_client_id: str = Field("", validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET"))
    slack_state_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_STATE_SECRET"))

    @property
    def slack_oauth(self) -> bool:
        """Tell whether Slack runs as a distributed app (OAuth installs) rather than with one bot token."""
        return bool(self.slack_client_id and self.slack_client_secret and self.slack_state_secret)

    def slack_oauth_missing(self) -> list[str]:
        """Name the OAuth variables still unset when some but not all of them are given."""
        given = {"SLACK_CLIENT_ID": bool(self.slack_client_id), "SLACK_CLIENT_SECRET": self.slack_client_secret is not None,
                 "SLACK_STATE_SECRET": self.slack_state_secret is not None}
        return [name for name, ok in given.items() if not ok] if any(given.values()) else []

    @property
    def slack_configured(self) -> bool:
        """Tell whether Slack can be served at all: a signing secret plus OAuth or a bot token."""
        return self.slack_signing_secret is not None and (self.slack_oauth or self.slack_bot_token is not None)

    # Dashboard (read-only web pages at /dashboard/, opened through personal sign-in links)
    # where people reach `liaison serve` from their browser; links in chat start with it
    public_url: str = Field("http://127.0.0.1:3000", validation_alias=_env("LIAISON_PUBLIC_URL"))
    # signs sign-in links and session cookies; every replica needs the same value
    dashboard_secret: SecretStr | None = Field(None, validation_alias=_env("LIAISON_DASHBOARD_SECRET"))
    dashboard_link_minutes: float = Field(15.0, gt=0, validation_alias=_env("LIAISON_DASHBOARD_LINK_MINUTES"))
    dashboard_session_hours: float = Field(12.0, gt=0, validation_alias=_env("LIAISON_DASHBOARD_SESSION_HOURS"))
    # Lax by default; "None" lets the Teams tab (a cross-site frame) keep the session
    dashboard_cookie_samesite: str = Field("Lax", pattern="^(Lax|Strict|None)$",
                                           validation_alias=_env("LIAISON_DASHBOARD_COOKIE_SAMESITE"))

    # Microsoft Teams (Bot Framework)
    microsoft_app_id: str = Field("", validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr | None = Field(None, validation_alias=_env("MICROSOFT_APP_PASSWORD"))
    microsoft_app_tenant_id: str = Field("", validation_alias=_env("MICROSOFT_APP_TENANT_ID"))
    microsoft_app_type: str = Field("MultiTenant", validation_alias=_env("MICROSOFT_APP_TYPE"))
    # Only for local testing with the Bot Framework Emulator or a fake connector: serve
    # /api/messages without an app id, i.e. without any token check.
    teams_allow_unauthenticated: bool = Field(False, validation_alias=_env("LIAISON_TEAMS_ALLOW_UNAUTHENTICATED"))
    # Where Bot Framework token signing keys are published; leave unset for the public cloud.
    # Set it (with the issuer) only for a sovereign cloud or a test issuer you run yourself.
    teams_openid_metadata_url: str = Field("", validation_alias=_env("LIAISON_TEAMS_OPENID_METADATA_URL"))
    teams_token_issuer: str = Field("https://api.botframework.com", validation_alias=_env("LIAISON_TEAMS_TOKEN_ISSUER"))
