"""Render neutral messages and forms as Block Kit. Pure: no I/O, no Slack client.

Every data string is shown literally: &, < and > are escaped so `<!channel>` or `<@U123>` in a
partner name or title notifies nobody, and the formatting marks (* _ ~ `, a line-leading >, an
:emoji: code) are neutralised so "*bold*" typed by a user reads "*bold*", as it does in Teams. Limits are met by construction: over-long content is cut with
"...and N more" instead of being rejected by Slack with invalid_blocks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.messages import (
    Action,
    ButtonStyle,
    FieldKind,
    Form,
    FormField,
    KpiRow,
    Message,
    Section,
    Severity,
    Status,
)

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_VALUE = 2000
MAX_FALLBACK = 3000
MAX_VIEW_TITLE = 24
MAX_OPTIONS = 100

SEVERITY_EMOJI = {Severity.INFO: "", Severity.SUCCESS: ":large_green_circle: ",
                  Severity.WARNING: ":large_orange_circle: ", Severity.CRITICAL: ":red_circle: "}
STATUS_EMOJI = {Status.OK: ":white_check_mark:", Status.WARNING: ":warning:", Status.BREACH: ":rotating_light:",
                Status.INSUFFICIENT: ":grey_question:", Status.NO_TARGET: ":heavy_minus_sign:",
                Status.NO_DATA: ":heavy_minus_sign:"}


# mrkdwn has no backslash escape. A date token whose format is invalid always shows its fallback
# text, unformatted: "<!date^0^{_}|*>" reads "*" and never opens bold, italic, strike or code.
# an emoji code names letters (":tada:", ":+1:" has none but is rare in text): a time range such as
# "10:00-13:00" is not one and stays as it is
_MARK = re.compile(r"[*_~`]|:(?=[a-z0-9_+'-]*[a-z][a-z0-9_+'-]*:)")
_QUOTE = re.compile(r"^(\s*)&gt;", re.MULTILINE)


def _literal(mark: str) -> str:
    return f"<!date^0^{{_}}|{mark}>"


def escape_plain(text: str) -> str:
    """Escape the three characters Slack decodes as entities (enough for plain_text and fallbacks)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: str) -> str:
    """Return ``text`` as mrkdwn that shows it literally: no mention, link, styling, quote or emoji."""
    text = _MARK.sub(lambda m: _literal(m.group()), escape_plain(text))
    # a soft hyphen before a line-leading ">" keeps it text instead of a block quote
    return _QUOTE.sub("\\1\u00ad&gt;", text)


def _whole(cut: str) -> str:
    """Drop a token or entity the cut split in two, so a clipped text never shows "<!date^" or "&am"."""
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    return cut


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters with an ellipsis, at a word break when one is near."""
    if len(text) <= limit:
        return text
    cut = _whole(text[: limit - 1])
    head, space, _tail = cut.rpartition(" ")
    return (head.rstrip(" ·,;:—-") if space and len(head) >= limit // 2 else cut) + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    # Slack decodes entities in plain_text too; escaping keeps "<!here>" in data inert everywhere.
    return {"type": "plain_text", "text": clip(escape_plain(text), limit) or " ", "emoji": True}


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_TEXT)}}


def _chunks(lines: list[str], limit: int = MAX_TEXT) -> list[str]:
    """Pack lines into section texts under ``limit`` characters."""
    out, current = [], ""
    for line in lines:
        line = clip(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def kpi_line(row: KpiRow) -> str:
    """One KPI as a compact mrkdwn line: status emoji and word, value vs target, change, trend."""
    scope = f"{escape(row.scope)} · " if row.scope else ""
    parts = [f"{STATUS_EMOJI[row.status]} {scope}*{escape(row.label)}* {escape(row.value)}"]
    if row.target:
        parts.append(f"target {escape(row.target)}")
    parts.append(row.status.text)
    if row.delta:
        parts.append(escape(row.delta))
    if row.sparkline:
        parts.append(f"`{row.sparkline}`")
    line = " · ".join(parts)
    if row.note:
        line += f"\n      _{escape(row.note)}_"
    return line


def _section_blocks(section: Section) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    lines: list[str] = []
    if section.heading:
        lines.append(f"*{escape(section.heading)}*")
    if section.text:
        lines.append(escape(section.text))
    lines += [kpi_line(row) for row in section.kpis]
    lines += [f"• {escape(b)}" for b in section.bullets]
    blocks += [_mrkdwn_section(chunk) for chunk in _chunks(lines)]
    facts = [{"type": "mrkdwn", "text": clip(f"*{escape(f.label)}*\n{escape(f.value)}"
                                              + (f" ({f.status.text})" if f.status else ""), 2000)}
             for f in section.facts]
    for i in range(0, len(facts), MAX_FIELDS):
        blocks.append({"type": "section", "fields": facts[i:i + MAX_FIELDS]})
    return blocks


def button(action: Action) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action.id.value,
                               "text": _plain(action.label, MAX_BUTTON)}
    if action.url:
        element["url"] = action.url
    else:
        element["value"] = clip(action.value, MAX_VALUE) if action.value else action.id.value
    if action.style is not ButtonStyle.DEFAULT:
        element["style"] = action.style.value
    if action.confirm:
        element["confirm"] = {"title": _plain(action.confirm.title, 100), "text": _plain(action.confirm.text, 300),
                              "confirm": _plain(action.confirm.confirm, 30), "deny": _plain(action.confirm.deny, 30)}
    return element


def message_blocks(message: Message, *, limit: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """Return the blocks for ``message``, never more than ``limit``."""
    head = SEVERITY_EMOJI[message.severity] + message.title
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(head, MAX_HEADER)}]
    if message.severity in (Severity.WARNING, Severity.CRITICAL):
        # status in words as well as colour, for screen readers and colour-blind readers
        word = "Critical" if message.severity is Severity.CRITICAL else "Warning"
        summary = f"*{word}:* {escape(message.summary)}" if message.summary else f"*{word}*"
        blocks.append(_mrkdwn_section(summary))
    elif message.summary:
        blocks.append(_mrkdwn_section(escape(message.summary)))
    body: list[dict[str, Any]] = []
    for section in message.sections:
        body += _section_blocks(section)
    if message.image and message.image.url:
        body.append({"type": "image", "image_url": message.image.url, "alt_text": clip(message.image.alt, 2000)})
    tail: list[dict[str, Any]] = []
    if message.context:
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(escape(message.context), MAX_TEXT)}]})
    if message.actions:
        tail.append({"type": "actions", "elements": [button(a) for a in message.actions[:25]]})
    room = limit - len(blocks) - len(tail)
    if len(body) > room:
        hidden = len(body) - (room - 1)
        body = body[: room - 1] + [_mrkdwn_section(f"_...and {hidden} more blocks; ask for a narrower window or partner._")]
    return blocks + body + tail


def fallback_text(message: Message) -> str:
    """Return the top-level text Slack shows in notifications and where blocks can't render."""
    return clip(escape_plain(message.text), MAX_FALLBACK)


def render_message(message: Message) -> dict[str, Any]:
    """Return chat.postMessage / respond() arguments: text (always) and blocks."""
    return {"text": fallback_text(message), "blocks": message_blocks(message)}


# ---- forms (modals) -------------------------------------------------------------------------

def _option(value: str, label: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _plain(label, 75), "value": clip(value, 150)}
    if description:
        option["description"] = _plain(description, 75)
    return option


def _element(field: FormField) -> dict[str, Any]:
    action_id = field.id
    kind = field.kind
    if kind in (FieldKind.SELECT, FieldKind.MULTI_SELECT):
        options = [_option(o.value, o.label, o.description) for o in field.options[:MAX_OPTIONS]]
        element: dict[str, Any] = {"type": "static_select" if kind is FieldKind.SELECT else "multi_static_select",
                                   "action_id": action_id, "options": options}
        chosen = [o for o in options if field.initial and o["value"] in field.initial.split(",")]
        if chosen:
            if kind is FieldKind.SELECT:
                element["initial_option"] = chosen[0]
            else:
                element["initial_options"] = chosen
        return element
    if kind is FieldKind.USER:
        element = {"type": "users_select", "action_id": action_id}
        if field.initial:
            element["initial_user"] = field.initial
        return element
    if kind is FieldKind.DATE:
        element = {"type": "datepicker", "action_id": action_id}
        if field.initial:
            element["initial_date"] = field.initial
        return element
    if kind is FieldKind.TIME:
        element = {"type": "timepicker", "action_id": action_id}
        if field.initial:
            element["initial_time"] = field.initial
        return element
    if kind is FieldKind.NUMBER:
        element = {"type": "number_input", "action_id": action_id, "is_decimal_allowed": True}
        if field.min_value is not None:
            element["min_value"] = f"{field.min_value:g}"
        if field.max_value is not None:
            element["max_value"] = f"{field.max_value:g}"
        if field.initial:
            element["initial_value"] = field.initial
        return element
    if kind is FieldKind.CHECKBOX:
        option = _option("yes", field.label)
        element = {"type": "checkboxes", "action_id": action_id, "options": [option]}
        if field.initial in ("yes", "true", "1"):
            element["initial_options"] = [option]
        return element
    element = {"type": "url_text_input" if kind is FieldKind.URL else "plain_text_input", "action_id": action_id}
    if kind is FieldKind.TEXTAREA:
        element["multiline"] = True
    if field.max_length and kind is not FieldKind.URL:
        element["max_length"] = min(field.max_length, 3000)
    if field.initial:
        element["initial_value"] = clip(field.initial, 3000)
    if field.placeholder:
        element["placeholder"] = _plain(field.placeholder, 150)
    return element


def form_view(form: Form) -> dict[str, Any]:
    """Return a modal view for ``form``. Fixed fields are shown, and carried in private_metadata."""
    blocks: list[dict[str, Any]] = []
    if form.intro:
        blocks.append(_mrkdwn_section(escape(form.intro)))
    fixed: dict[str, str] = {}
    for field in form.fields:
        if field.read_only:
            fixed[field.id] = field.initial or ""
            shown = next((o.label for o in field.options if o.value == field.initial), field.initial or "")
            blocks.append(_mrkdwn_section(f"*{escape(field.label)}:* {escape(shown)}"))
            continue
        block: dict[str, Any] = {"type": "input", "block_id": field.id, "label": _plain(field.label, 2000),
                                 "element": _element(field), "optional": not field.required}
        if field.hint:
            block["hint"] = _plain(field.hint, 2000)
        blocks.append(block)
    return {
        "type": "modal",
        "callback_id": form.id.value,
        "title": _plain(form.title, MAX_VIEW_TITLE),
        "submit": _plain(form.submit_label, MAX_VIEW_TITLE),
        "close": _plain("Cancel", MAX_VIEW_TITLE),
        "private_metadata": json.dumps({"state": form.state, "fixed": fixed})[:3000],
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def error_view(message: Message) -> dict[str, Any]:
    """Return a modal that replaces a form with ``message`` (a failure the user can only close)."""
    return {"type": "modal", "title": _plain("Not saved", MAX_VIEW_TITLE), "close": _plain("Close", MAX_VIEW_TITLE),
            "blocks": message_blocks(message, limit=MAX_VIEW_BLOCKS)}


def view_values(view: dict[str, Any]) -> tuple[dict[str, str | list[str] | None], str]:
    """Read a submitted modal back into form values and the form's state."""
    values: dict[str, str | list[str] | None] = {}
    for block_id, actions in (view.get("state", {}).get("values", {}) or {}).items():
        for element in actions.values():
            kind = element.get("type")
            if kind in ("static_select",):
                chosen = element.get("selected_option")
                values[block_id] = chosen["value"] if chosen else None
            elif kind in ("multi_static_select", "checkboxes"):
                picked = [o["value"] for o in element.get("selected_options") or []]
                values[block_id] = ("yes" if picked else "no") if kind == "checkboxes" else picked
            elif kind == "users_select":
                values[block_id] = element.get("selected_user")
            elif kind == "datepicker":
                values[block_id] = element.get("selected_date")
            elif kind == "timepicker":
                values[block_id] = element.get("selected_time")
            else:
                values[block_id] = element.get("value")
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        meta = {}
    for key, value in (meta.get("fixed") or {}).items():
        values[key] = value
    return values, str(meta.get("state", ""))


def home_view(message: Message) -> dict[str, Any]:
    """Return an App Home view from a neutral message (up to 100 blocks)."""
    return {"type": "home", "blocks": message_blocks(message, limit=MAX_VIEW_BLOCKS)}
