"""Turn the neutral Message into JSON-safe dicts and back (the outbox stores messages this way).

The outbox keeps the *neutral* message, not a rendered Block Kit / Adaptive Card payload:
gateways render at send time, so a renderer fix also applies to messages still waiting
for a retry, and one row format serves every platform.
"""

from __future__ import annotations

import base64
import dataclasses
from enum import Enum
from typing import Any

from bot.actions import ActionId, FormId
from bot.messages import (
    Action,
    Attachment,
    ButtonStyle,
    Confirm,
    Fact,
    FieldKind,
    Form,
    FormField,
    Image,
    KpiRow,
    Message,
    Option,
    Section,
    Severity,
    Status,
)

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Message, Section, Fact, KpiRow, Action, Confirm, Image, Attachment, Form, FormField, Option)
}
# Fields holding enums, so decoding gives back the enum (renderers match on them).
_ENUMS: dict[str, dict[str, type[Enum]]] = {
    "Message": {"severity": Severity},
    "Fact": {"status": Status},
    "KpiRow": {"status": Status},
    "Action": {"id": ActionId, "style": ButtonStyle},
    "FormField": {"kind": FieldKind},
    "Form": {"id": FormId},
}
_BYTES = {("Image", "png"), ("Attachment", "content")}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if name not in _TYPES:
            raise TypeError(f"cannot encode {name} in a message")
        out: dict[str, Any] = {"_type": name}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if (name, f.name) in _BYTES and item is not None:
                out[f.name] = base64.b64encode(item).decode("ascii")
            else:
                out[f.name] = _encode(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict) and "_type" in value:
        name = value["_type"]
        cls = _TYPES[name]
        enums = _ENUMS.get(name, {})
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in value:
                continue  # older rows lack newer optional fields: keep the default
            raw = value[f.name]
            if raw is None:
                kwargs[f.name] = None
            elif (name, f.name) in _BYTES:
                kwargs[f.name] = base64.b64decode(raw)
            elif f.name in enums:
                kwargs[f.name] = enums[f.name](raw)
            else:
                kwargs[f.name] = _decode(raw)
        return cls(**kwargs)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def message_to_dict(message: Message) -> dict[str, Any]:
    """Return ``message`` as a JSON-safe dict (PNG bytes as base64)."""
    return _encode(message)


def message_from_dict(data: dict[str, Any]) -> Message:
    """Rebuild the Message that ``message_to_dict`` encoded."""
    message = _decode(data)
    if not isinstance(message, Message):
        raise ValueError("payload is not an encoded Message")
    return message
