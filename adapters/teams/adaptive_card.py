"""Render neutral messages and forms as Adaptive Cards 1.5 (what Teams supports). Pure, no I/O.

Status is colour *and* words; buttons are Action.Submit carrying the same ids as Slack's
action_id. Teams refuses a message over 28 KB *as sent*: the connector client (msrest)
serializes the activity with ``json.dumps`` and its default ``ensure_ascii=True``, so every
non-ASCII character (·, —, ≥, sparkline bars) costs 6 bytes. :func:`size` measures exactly
that, and a card is kept under :data:`MAX_BYTES`, which leaves a margin for the activity
around it. A card too large keeps every section: the longest sections give up their last rows
first, each saying how many it left out; the chart gets the room that is left.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import Any

from bot.actions import FormId
from bot.compose.png import compact_png
from bot.messages import (
    FieldKind,
    Form,
    FormErrors,
    FormField,
    KpiRow,
    Message,
    Option,
    Section,
    Severity,
    Status,
)

VERSION = "1.5"
TEAMS_LIMIT = 28 * 1024  # what Teams accepts for a whole message activity
# The activity around the card (type, ids, serviceUrl, a 200-character summary that may be
# all non-ASCII: up to 1.2 KB) plus a safety margin.
ENVELOPE_MARGIN = 3 * 1024
MAX_BYTES = TEAMS_LIMIT - ENVELOPE_MARGIN
MIN_INLINE_PNG = 3 * 1024  # below this a chart is not readable; say it is not shown instead
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
SEVERITY_COLOR = {Severity.INFO: "Default", Severity.SUCCESS: "Good", Severity.WARNING: "Warning",
                  Severity.CRITICAL: "Attention"}
SEVERITY_WORD = {Severity.INFO: "", Severity.SUCCESS: "OK", Severity.WARNING: "WARNING", Severity.CRITICAL: "CRITICAL"}
STATUS_COLOR = {Status.OK: "Good", Status.WARNING: "Warning", Status.BREACH: "Attention",
                Status.INSUFFICIENT: "Default", Status.NO_TARGET: "Default", Status.NO_DATA: "Default"}
# The markdown Adaptive Cards understand: **bold**, _italic_/*italic*, [links](url) and lists.
# Escape only those, so a client that shows escapes literally shows as few as possible.
_MARKDOWN = re.compile(r"([\\*_\[\]])")
_LIST_MARKER = re.compile(r"^(\s*)([-+](?=\s)|\d+(?=\.\s))", re.MULTILINE)


def escape(text: str) -> str:
    """Neutralise the markdown subset TextBlocks understand, so data can't add links, lists or styling.

    Teams honours CommonMark backslash escapes; a mention needs an entity we never send, so
    "<at>" in data stays text.
    """
    text = _MARKDOWN.sub(r"\\\1", text)
    # "- x", "+ x" and "1. x" at a line start would become list items
    return _LIST_MARKER.sub(lambda m: f"{m.group(1)}{m.group(2)}\\" if m.group(2)[0].isdigit()
                            else f"{m.group(1)}\\{m.group(2)}", text)


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": escape(text), "wrap": True, **props}


def _compact_kpi(row: KpiRow) -> dict[str, Any]:
    """One KPI in two cells (figures, coloured status word), for cards that cannot hold the full rows."""
    label = f"{row.scope} · {row.label}" if row.scope else row.label
    figures = " · ".join(x for x in (f"**{escape(label)}** {escape(row.value)}",
                                     escape(f"target {row.target}") if row.target else None,
                                     escape(row.delta) if row.delta else None) if x)
    return {"type": "ColumnSet", "spacing": "None", "columns": [
        {"type": "Column", "width": "stretch", "items": [{"type": "TextBlock", "text": figures, "wrap": True}]},
        {"type": "Column", "width": "auto", "items": [_text(row.status.text, color=STATUS_COLOR[row.status],
                                                            weight="Bolder")]}]}


# Fixed widths for the figure columns, so the rows of a list line up under each other (auto
# widths size each row on its own, and a row without a trend would shift every column).
_WIDTHS = ("80px", "100px", "90px", "150px")


def _kpi(row: KpiRow) -> dict[str, Any]:
    label = f"{row.scope} · {row.label}" if row.scope else row.label
    trend = " ".join(x for x in (row.delta, row.sparkline) if x) or "–"
    cells = [_text(row.value), _text(f"target {row.target}" if row.target else "no target", isSubtle=True),
             _text(row.status.text, color=STATUS_COLOR[row.status], weight="Bolder"),
             _text(trend, fontType="Monospace")]
    columns = [{"type": "Column", "width": "stretch", "items": [_text(label, weight="Bolder")]
                + ([_text(row.note, isSubtle=True, size="Small", spacing="None")] if row.note else [])}]
    columns += [{"type": "Column", "width": width, "items": [cell]} for width, cell in zip(_WIDTHS, cells, strict=True)]
    return {"type": "ColumnSet", "columns": columns, "spacing": "Small"}


def _section(section: Section, *, compact: bool = False) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Return a section's fixed items (heading, text) and its rows (facts, KPIs, bullets) in order."""
    items: list[dict[str, Any]] = []
    if section.heading:
        items.append(_text(section.heading, weight="Bolder", size="Medium", separator=True, spacing="Medium"))
    if section.text:
        items.append(_text(section.text))
    rows: list[tuple[str, dict[str, Any]]] = [
        ("fact", {"title": escape(f.label), "value": escape(f.value + (f" ({f.status.text})" if f.status else ""))})
        for f in section.facts]
    rows += [("item", _compact_kpi(row) if compact else _kpi(row)) for row in section.kpis]
    rows += [("item", _text(f"• {b}", spacing="None")) for b in section.bullets]
    return items, rows


def _assemble(fixed: list[dict[str, Any]], rows: list[tuple[str, dict[str, Any]]], left_out: int) -> list[dict[str, Any]]:
    facts = [r for kind, r in rows if kind == "fact"]
    out = list(fixed)
    if facts:
        out.append({"type": "FactSet", "facts": facts})
    out += [r for kind, r in rows if kind == "item"]
    if left_out:
        out.append(_text(f"...and {left_out} more not shown (Teams size limit; Slack shows all)",
                         isSubtle=True, size="Small", spacing="None"))
    return out


def _actions(message: Message) -> list[dict[str, Any]]:
    out = []
    for action in message.actions:
        if action.url:
            out.append({"type": "Action.OpenUrl", "title": action.label, "url": action.url})
        else:
            out.append({"type": "Action.Submit", "title": action.label,
                        "data": {"action": action.id.value, "value": action.value}})
    return out


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        card["actions"] = actions
    return card


def size(card: dict[str, Any]) -> int:
    """Return the card's bytes as the connector client sends them (JSON, non-ASCII escaped)."""
    return len(json.dumps(card).encode("ascii"))


def _image(message: Message, room: int) -> list[dict[str, Any]]:
    """Return the chart element sized to ``room`` bytes of card, or a note saying it is not shown."""
    image = message.image
    if image is None:
        return []
    if image.url:
        return [{"type": "Image", "url": image.url, "altText": image.alt}]
    if not image.png:
        return []
    element = {"type": "Image", "altText": image.alt, "url": "data:image/png;base64,"}
    # base64 grows the PNG by a third; the rest is the element's own JSON
    budget = (room - size(element) - 8) * 3 // 4
    inline = compact_png(image.png, max_bytes=budget) if budget >= MIN_INLINE_PNG else None
    if inline is not None:
        element["url"] += base64.b64encode(inline).decode()
        return [element]
    # Nothing that fits is still readable: say so rather than drop it silently.
    return [_text(f"Chart not shown in Teams (too large for a card): {image.alt}.", isSubtle=True, size="Small")]


def render_card(message: Message) -> dict[str, Any]:
    """Return the Adaptive Card for ``message``, at most MAX_BYTES as sent, every section kept."""
    word = SEVERITY_WORD[message.severity]
    head = [_text(f"{word}: {message.title}" if word else message.title, size="Large", weight="Bolder",
                  color=SEVERITY_COLOR[message.severity])]
    if message.summary:
        head.append(_text(message.summary))
    tail = [_text(message.context, isSubtle=True, size="Small", separator=True)] if message.context else []
    actions = _actions(message)
    # The chart's fallback note is the least it takes; the rows must fit beside that.
    floor = _image(message, 0)
    parts = [_section(section) for section in message.sections]
    kept = [list(rows) for _fixed, rows in parts]

    def build(extra: list[dict[str, Any]]) -> dict[str, Any]:
        body = [item for (fixed, rows), rows_kept in zip(parts, kept, strict=True)
                for item in _assemble(fixed, rows_kept, len(rows) - len(rows_kept))]
        return _card(head + body + extra + tail, actions)

    card = build(floor)
    if size(card) > MAX_BYTES:
        # Too large: KPI rows in their compact form first (every figure and the status word stay)
        parts = [_section(section, compact=True) for section in message.sections]
        kept = [list(rows) for _fixed, rows in parts]
        card = build(floor)
    over = size(card) - MAX_BYTES
    if over > 0:
        # Then the sections holding the most bytes give up their last rows (so a long KPI list
        # shrinks before a short ranking); estimate per row, then confirm with the real size.
        cost = [[size(r) + 2 for _k, r in rows] for rows in kept]
        held = [sum(c) for c in cost]

        def biggest() -> int:
            return max((j for j in range(len(kept)) if kept[j]), key=lambda j: (held[j], j))

        while over > 0 and any(kept):
            i = biggest()
            kept[i].pop()
            freed = cost[i].pop()
            held[i] -= freed
            over -= freed
        card = build(floor)
        while size(card) > MAX_BYTES and any(kept):
            i = biggest()
            kept[i].pop()
            held[i] -= cost[i].pop()
            card = build(floor)
    if message.image:
        with_chart = build(_image(message, MAX_BYTES - size(build([]))))
        card = with_chart if size(with_chart) <= MAX_BYTES else card
    return card


def _input(field, error: str | None) -> dict[str, Any]:  # noqa: ANN001 - FormField
    common: dict[str, Any] = {"id": field.id, "label": field.label, "isRequired": field.required,
                              "errorMessage": error or f"{field.label} is required"}
    kind = field.kind
    if kind in (FieldKind.SELECT, FieldKind.MULTI_SELECT):
        element = {"type": "Input.ChoiceSet", "style": "compact", "isMultiSelect": kind is FieldKind.MULTI_SELECT,
                   "choices": [{"title": o.label, "value": o.value} for o in field.options]}
    elif kind is FieldKind.DATE:
        element = {"type": "Input.Date"}
    elif kind is FieldKind.TIME:
        element = {"type": "Input.Time"}
    elif kind is FieldKind.NUMBER:
        element = {"type": "Input.Number"}
        if field.min_value is not None:
            element["min"] = field.min_value
        if field.max_value is not None:
            element["max"] = field.max_value
    elif kind is FieldKind.CHECKBOX:
        element = {"type": "Input.Toggle", "title": field.label, "valueOn": "yes", "valueOff": "no"}
    else:
        element = {"type": "Input.Text", "isMultiline": kind is FieldKind.TEXTAREA,
                   "style": "Url" if kind is FieldKind.URL else "Text"}
        if field.max_length:
            element["maxLength"] = field.max_length
        if field.placeholder:
            element["placeholder"] = field.placeholder
    if field.initial is not None:
        element["value"] = field.initial
    return {**element, **common}


def render_form(form: Form, errors: FormErrors | None = None) -> dict[str, Any]:
    """Return a card form; fixed fields are shown as text and sent back in the submit data.

    The submit data also carries the form's own spec, because a Teams card cannot stay open
    like a Slack modal: when the server rejects a submission the form is rendered again from
    it, with the errors and the values typed so far. The spec only shapes that re-render;
    handlers validate every submitted value on the server.
    """
    problems_by_field = errors.errors if errors else {}
    labels = {f.id: f.label for f in form.fields}
    body: list[dict[str, Any]] = [_text(form.title, size="Large", weight="Bolder")]
    if problems_by_field:
        body.append(_text("Nothing was saved. Please fix: " + "; ".join(
            f"{labels.get(k, k)}: {v}" for k, v in problems_by_field.items()), color="Attention", weight="Bolder"))
    if form.intro:
        body.append(_text(form.intro))
    fixed: dict[str, str] = {}
    for field in form.fields:
        if field.read_only:
            fixed[field.id] = field.initial or ""
            shown = next((o.label for o in field.options if o.value == field.initial), field.initial or "")
            body.append({"type": "FactSet", "facts": [{"title": escape(field.label), "value": escape(shown)}]})
            continue
        body.append(_input(field, problems_by_field.get(field.id)))
        if field.id in problems_by_field:
            body.append(_text(problems_by_field[field.id], color="Attention", size="Small", spacing="None"))
        elif field.hint:
            body.append(_text(field.hint, isSubtle=True, size="Small", spacing="None"))
    submit = {"type": "Action.Submit", "title": form.submit_label,
              "data": {"form": form.id.value, "state": form.state, "fixed": fixed, "spec": form_spec(form)}}
    return _card(body, [submit])


_FIELD_KEYS = ("id", "label", "kind", "required", "initial", "placeholder", "hint", "max_length", "min_value",
               "max_value", "read_only")


def form_spec(form: Form) -> dict[str, Any]:
    """Return the JSON-safe description of ``form`` that travels in its submit data."""
    return {"title": form.title, "submit": form.submit_label, "intro": form.intro,
            "fields": [{**{k: getattr(f, k) for k in _FIELD_KEYS if getattr(f, k) not in (None, "")},
                        "options": [[o.value, o.label] for o in f.options]} for f in form.fields]}


def form_from_spec(form_id: FormId, state: str, spec: dict[str, Any]) -> Form:
    """Rebuild a form from its submit data; raise ValueError if the spec is not one we wrote."""
    try:
        fields = tuple(FormField(**{k: raw[k] for k in _FIELD_KEYS if k in raw}
                                 | {"kind": FieldKind(raw.get("kind", "text")),
                                    "options": tuple(Option(str(v), str(label)) for v, label in raw.get("options", []))})
                       for raw in spec["fields"])
        return Form(form_id, str(spec["title"]), fields, submit_label=str(spec.get("submit") or "Submit"),
                    intro=spec.get("intro"), state=state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a Liaison form spec: {exc}") from exc


def with_values(form: Form, values: dict[str, Any]) -> Form:
    """Return ``form`` with what the user typed as initial values, so a re-render loses nothing."""
    fields = tuple(replace(f, initial=str(values[f.id])) if f.id in values and values[f.id] not in (None, "")
                   and not f.read_only else f for f in form.fields)
    return replace(form, fields=fields)


KNOWN_ELEMENTS = {"TextBlock", "ColumnSet", "Column", "FactSet", "Image", "Container", "Input.Text",
                  "Input.ChoiceSet", "Input.Date", "Input.Time", "Input.Number", "Input.Toggle"}
KNOWN_ACTIONS = {"Action.Submit", "Action.OpenUrl"}


def problems(card: dict[str, Any]) -> list[str]:
    """Check a card's structure: version, known element/action types, required fields, size."""
    found: list[str] = []
    if card.get("type") != "AdaptiveCard" or card.get("version") not in ("1.0", "1.2", "1.3", "1.4", "1.5"):
        found.append("not an AdaptiveCard of version <= 1.5")
    if size(card) > MAX_BYTES:
        found.append(f"{size(card)} bytes is over 28 KB")

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            kind = item.get("type")
            if kind not in KNOWN_ELEMENTS:
                found.append(f"unknown element {kind}")
            if kind == "TextBlock" and not item.get("text"):
                found.append("TextBlock without text")
            if kind and kind.startswith("Input.") and not item.get("id"):
                found.append(f"{kind} without id")
            walk(item.get("items", []))
            walk(item.get("columns", []))
    walk(card.get("body", []))
    for action in card.get("actions", []):
        if action.get("type") not in KNOWN_ACTIONS or not action.get("title"):
            found.append(f"bad action {action}")
    return found
