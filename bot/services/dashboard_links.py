"""Personal dashboard links: a short-lived signed sign-in token, exchanged for a signed session.

Both are ``<payload>.<signature>``: the payload is base64url JSON naming the purpose ("link" or
"session"), the platform identity and the expiry (epoch seconds); the signature is HMAC-SHA256
with LIAISON_DASHBOARD_SECRET. Nothing is stored: the web side writes no state, and every
request re-reads the user so a deactivated person loses access at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.settings import Settings

log = logging.getLogger(__name__)

LINK = "link"
SESSION = "session"
LOGIN_PATH = "/dashboard/login"
_FALLBACK = secrets.token_bytes(32)  # one process only: set LIAISON_DASHBOARD_SECRET for replicas


class TokenInvalid(Exception):
    """A token that was altered, is not ours, or is for another purpose."""


class TokenExpired(Exception):
    """A genuine token past its expiry; ``expired_at`` says when."""

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"expired at {expired_at.isoformat()}")
        self.expired_at = expired_at


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token stands for, and until when."""

    platform: str
    platform_user_id: str
    expires: datetime
    path: str = "/dashboard/"


def _secret(settings: Settings) -> bytes:
    if settings.dashboard_secret is not None and settings.dashboard_secret.get_secret_value():
        return settings.dashboard_secret.get_secret_value().encode()
    return _FALLBACK


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(settings: Settings, *, purpose: str, identity: Identity) -> str:
    """Return a token for ``identity`` and ``purpose``."""
    body = json.dumps({"k": purpose, "p": identity.platform, "u": identity.platform_user_id,
                       "e": int(identity.expires.timestamp()), "r": identity.path},
                      separators=(",", ":"), sort_keys=True).encode()
    payload = _b64(body)
    mac = hmac.new(_secret(settings), f"{purpose}.{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify(settings: Settings, token: str, *, purpose: str, now: datetime) -> Identity:
    """Return the identity in ``token``; raise TokenInvalid or TokenExpired."""
    payload, dot, signature = (token or "").partition(".")
    if not dot or not payload or not signature:
        raise TokenInvalid("malformed")
    expected = hmac.new(_secret(settings), f"{purpose}.{payload}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("undecodable") from exc
    if not hmac.compare_digest(expected, given) or not isinstance(data, dict) or data.get("k") != purpose:
        raise TokenInvalid("bad signature")
    try:
        expires = datetime.fromtimestamp(int(data["e"]), UTC)
        path = str(data.get("r") or "/dashboard/")
        identity = Identity(str(data["p"]), str(data["u"]), expires, path if path.startswith("/dashboard/") else "/dashboard/")
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise TokenInvalid("incomplete") from exc
    if now >= expires:
        raise TokenExpired(expires)
    return identity


def login_link(settings: Settings, *, platform: str, platform_user_id: str, now: datetime,
               path: str = "/dashboard/") -> tuple[str, datetime]:
    """Return a personal sign-in URL (and its expiry) that opens ``path`` on the dashboard."""
    expires = now + timedelta(minutes=settings.dashboard_link_minutes)
    token = sign(settings, purpose=LINK, identity=Identity(platform, platform_user_id, expires, path))
    return f"{settings.public_url.rstrip('/')}{LOGIN_PATH}?t={quote(token)}", expires


def session_token(settings: Settings, link: Identity, *, now: datetime) -> tuple[str, datetime]:
    """Return the session token a valid sign-in link is exchanged for (and its expiry)."""
    expires = now + timedelta(hours=settings.dashboard_session_hours)
    identity = Identity(link.platform, link.platform_user_id, expires)
    return sign(settings, purpose=SESSION, identity=identity), expires
