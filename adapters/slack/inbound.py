"""Typed Slack payloads, parsed once at the boundary so listeners never dig through raw dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Slack's control sequences in message and slash-command text (docs: "Formatting text for app surfaces")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(?:subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>")


def plain_text(text: str) -> str:
    """Turn Slack's escaped text into what the person typed: ``<@U1|maria>`` -> ``@maria``,
    ``<#C1|acme-cx>`` -> ``#acme-cx``, ``<https://x|x>`` -> ``https://x``, ``&lt;`` -> ``<``."""
    text = _USER.sub(lambda m: f"@{m.group(2) or m.group(1)}", text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SPECIAL.sub(lambda m: m.group(1) or "@here", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class MalformedPayload(ValueError):
    """A Slack payload lacks a field Liaison needs."""


def _need(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what} has no {key}")
    return value


def _user_team(body: dict[str, Any]) -> str | None:
    # In a Slack Connect channel the acting user's workspace is user.team_id, not the payload's team.
    user, team = body.get("user") or {}, body.get("team") or {}
    return user.get("team_id") or (team.get("id") if isinstance(team, dict) else None) or None


@dataclass(frozen=True, slots=True)
class SlashCommand:
    command: str
    text: str
    user_id: str
    channel_id: str | None
    trigger_id: str | None
    team_id: str | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SlashCommand:
        """Read a slash-command payload."""
        return cls(command=_need(body, "command", "slash command"), text=plain_text(body.get("text") or ""),
                   user_id=_need(body, "user_id", "slash command"), channel_id=body.get("channel_id") or None,
                   trigger_id=body.get("trigger_id") or None, team_id=body.get("team_id") or None)


@dataclass(frozen=True, slots=True)
class ButtonPress:
    action_id: str
    value: str
    user_id: str
    channel_id: str | None
    message_ts: str | None
    trigger_id: str | None
    team_id: str | None = None  # the presser's own workspace (differs from the app's in Slack Connect)

    @property
    def message_ref(self) -> str | None:
        """Return the "CHANNEL:TS" ref of the pressed message, when it is a channel message."""
        return f"{self.channel_id}:{self.message_ts}" if self.channel_id and self.message_ts else None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ButtonPress:
        """Read the first action of a block_actions payload."""
        actions = body.get("actions") or []
        if not actions or not isinstance(actions[0], dict):
            raise MalformedPayload("block_actions has no action")
        action = actions[0]
        return cls(action_id=_need(action, "action_id", "action"), value=action.get("value") or "",
                   user_id=_need(body.get("user") or {}, "id", "block_actions user"),
                   channel_id=(body.get("channel") or {}).get("id"),
                   message_ts=(body.get("container") or {}).get("message_ts"),
                   trigger_id=body.get("trigger_id") or None, team_id=_user_team(body))


@dataclass(frozen=True, slots=True)
class ViewSubmission:
    callback_id: str
    user_id: str
    view: dict[str, Any]
    team_id: str | None = None  # the submitter's own workspace

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ViewSubmission:
        """Read a view_submission payload."""
        view = body.get("view")
        if not isinstance(view, dict):
            raise MalformedPayload("view_submission has no view")
        return cls(callback_id=_need(view, "callback_id", "view"),
                   user_id=_need(body.get("user") or {}, "id", "view_submission user"), view=view,
                   team_id=_user_team(body))


@dataclass(frozen=True, slots=True)
class HomeOpened:
    user_id: str
    tab: str
    team_id: str | None = None  # the user's own workspace when Slack says (``user_team``)

    @classmethod
    def parse(cls, event: dict[str, Any]) -> HomeOpened:
        """Read an app_home_opened event."""
        return cls(user_id=_need(event, "user", "app_home_opened"), tab=event.get("tab") or "home",
                   team_id=event.get("user_team") or None)
