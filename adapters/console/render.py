"""Render neutral messages as readable terminal text (the console adapter's renderer)."""

from __future__ import annotations

import textwrap

from bot.messages import FieldKind, Form, KpiRow, Message, OpenForm, Reply, Severity, Status

WIDTH = 100
_SEVERITY = {Severity.INFO: "", Severity.SUCCESS: "[OK] ", Severity.WARNING: "[WARNING] ", Severity.CRITICAL: "[CRITICAL] "}
_STATUS = {Status.OK: "ok", Status.WARNING: "WARN", Status.BREACH: "BREACH", Status.INSUFFICIENT: "low vol",
           Status.NO_TARGET: "-", Status.NO_DATA: "no data"}


def _wrap(text: str, indent: str = "") -> list[str]:
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        # long words (links) stay whole so they can be copied from the terminal
        lines.extend(textwrap.wrap(para, WIDTH - len(indent), initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False) or [indent])
    return lines


def _kpi_table(rows: tuple[KpiRow, ...]) -> list[str]:
    label_w = min(max(len(r.label) for r in rows), 44)
    out = []
    for r in rows:
        scope = f"{r.scope}: " if r.scope else ""
        cells = [
            f"  {(scope + r.label)[:label_w + len(scope)]:<{label_w}}",
            f"{r.value:>9}",
            f"{('target ' + r.target) if r.target else '':<16}",
            f"{_STATUS[r.status]:<8}",
            f"{r.delta or '':>9}",
            f"{r.sparkline or ''}",
        ]
        out.append("  ".join(cells).rstrip())
        if r.note:
            out.append(f"  {'':<{label_w}}  {r.note}")
    return out


def render_message(message: Message) -> str:
    """Return the message as plain text; buttons are numbered for `press N`."""
    lines = [f"{_SEVERITY[message.severity]}{message.title}", "=" * min(WIDTH, len(message.title) + len(_SEVERITY[message.severity]))]
    if message.summary:
        lines += _wrap(message.summary)
    for section in message.sections:
        lines.append("")
        if section.heading:
            lines.append(f"-- {section.heading}")
        if section.text:
            lines += _wrap(section.text, "  ")
        for fact in section.facts:
            status = f" ({fact.status.text})" if fact.status else ""
            lines += _wrap(f"{fact.label}: {fact.value}{status}", "  ")
        if section.kpis:
            lines += _kpi_table(section.kpis)
        for bullet in section.bullets:
            lines += _wrap(f"• {bullet}", "  ")
    if message.image:
        lines += ["", f"[chart: {message.image.alt}]"]
    for attachment in message.attachments:
        lines.append(f"[file: {attachment.filename}, {len(attachment.content):,} bytes]")
    if message.context:
        lines += [""] + _wrap(message.context)
    if message.actions:
        buttons = "  ".join(f"[{i} {a.label}]" for i, a in enumerate(message.actions, start=1))
        lines += ["", f"Buttons: {buttons}   (type `press N`)"]
    return "\n".join(lines)


def render_form(form: Form) -> str:
    """Describe a form and how to fill it in the console (`fill field=value ...`)."""
    lines = [f"[FORM] {form.title}", "=" * (len(form.title) + 7)]
    if form.intro:
        lines += _wrap(form.intro)
    for field in form.fields:
        req = "required" if field.required else "optional"
        kind = field.kind.value
        extra = ""
        if field.kind in (FieldKind.SELECT, FieldKind.MULTI_SELECT) and field.options:
            extra = " one of: " + ", ".join(o.value for o in field.options)
        initial = f" [now: {field.initial}]" if field.initial else ""
        fixed = " (fixed)" if field.read_only else ""
        lines += _wrap(f"{field.id}: {field.label} ({kind}, {req}){fixed}{initial}{extra}", "  ")
    lines += ["", "Fill it with: submit field=value field=\"several words\" ..."]
    return "\n".join(lines)


def render(reply: Reply) -> str:
    if isinstance(reply, OpenForm):
        return render_form(reply.form)
    return render_message(reply)
