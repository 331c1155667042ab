"""Typed Slack payloads, parsed once at the boundary so listeners never dig through raw dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class MalformedPayload(ValueError):
    """A Slack payload lacks a field Liaison needs."""


def _need(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what} has no {key}")
    return value


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
        return cls(command=_need(body, "command", "slash command"), text=body.get("text") or "",
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
                   trigger_id=body.get("trigger_id") or None)


@dataclass(frozen=True, slots=True)
class ViewSubmission:
    callback_id: str
    user_id: str
    view: dict[str, Any]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ViewSubmission:
        """Read a view_submission payload."""
        view = body.get("view")
        if not isinstance(view, dict):
            raise MalformedPayload("view_submission has no view")
        return cls(callback_id=_need(view, "callback_id", "view"),
                   user_id=_need(body.get("user") or {}, "id", "view_submission user"), view=view)


@dataclass(frozen=True, slots=True)
class HomeOpened:
    user_id: str
    tab: str

    @classmethod
    def parse(cls, event: dict[str, Any]) -> HomeOpened:
        """Read an app_home_opened event."""
        return cls(user_id=_need(event, "user", "app_home_opened"), tab=event.get("tab") or "home")
