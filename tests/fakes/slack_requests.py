"""Build Slack requests and sign them for real (v0 HMAC-SHA256 over "v0:{ts}:{body}")."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import urlencode

# Slack gives every interaction its own trigger_id, so two real requests never share a body
# (and so a signature): the same body signed twice in one second is a replay.
_TRIGGERS = itertools.count(1)


def _trigger(given: str | None) -> str:
    return given or f"T-auto-{next(_TRIGGERS)}"


def sign(secret: str, body: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def slash_command(command: str, text: str, *, user: str, response_url: str, channel: str = "C0TEST",
                  trigger_id: str | None = None, team: str = "T0TEAM") -> tuple[str, str]:
    body = urlencode({"command": command, "text": text, "user_id": user, "user_name": user, "team_id": team,
                      "channel_id": channel, "response_url": response_url, "trigger_id": _trigger(trigger_id),
                      "api_app_id": "A0APP", "token": "legacy"})
    return body, "application/x-www-form-urlencoded"


def block_action(action_id: str, value: str, *, user: str, response_url: str, channel: str = "C0TEST",
                 message_ts: str = "1700000000.000001", team: str = "T0TEAM",
                 user_team: str | None = None) -> tuple[str, str]:
    """A button press; ``user_team`` differs from ``team`` for a Slack Connect user of another workspace."""
    payload = {"type": "block_actions", "user": {"id": user, "team_id": user_team or team}, "team": {"id": team},
               "api_app_id": "A0APP",
               "trigger_id": _trigger(None), "response_url": response_url, "channel": {"id": channel},
               "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
               "message": {"ts": message_ts, "text": "x"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                            "action_ts": "1700000000.1"}]}
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def view_submission(callback_id: str, values: dict, *, user: str, private_metadata: str = "",
                    view_id: str | None = None) -> tuple[str, str]:
    """A modal submitted; each call is a new modal (its own view id) unless ``view_id`` says otherwise."""
    payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0TEAM"}, "api_app_id": "A0APP",
               "trigger_id": _trigger(None),
               "view": {"id": view_id or f"V-auto-{next(_TRIGGERS)}", "type": "modal", "callback_id": callback_id,
                        "private_metadata": private_metadata, "state": {"values": values}}}
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def event(event_payload: dict, *, event_id: str, team: str = "T0TEAM") -> tuple[str, str]:
    body = {"type": "event_callback", "team_id": team, "api_app_id": "A0APP", "event": event_payload,
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": f"U0BOT{team}", "is_bot": True,
                                "is_enterprise_install": False, "enterprise_id": None}]}
    return json.dumps(body), "application/json"
