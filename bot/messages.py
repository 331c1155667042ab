"""The neutral message model every answer, alert, digest and form is built from.

Composers in ``bot/compose`` return these; each adapter renders them (Block Kit, Adaptive
Cards, terminal text). All strings here are *plain text as the user or data gave it*:
renderers escape them for their platform, so nothing here may carry platform markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.actions import ActionId, FormId


class Severity(StrEnum):
    """How loud a message is; renderers map it to colour *and* words."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    CRITICAL = "critical"


class Status(StrEnum):
    """A KPI's standing against its target."""

    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"
    INSUFFICIENT = "insufficient"  # below the target's minimum volume
    NO_TARGET = "no_target"
    NO_DATA = "no_data"

    @property
    def text(self) -> str:
        return _STATUS_TEXT[self]


_STATUS_TEXT = {
    Status.OK: "on target",
    Status.WARNING: "warning",
    Status.BREACH: "breach",
    Status.INSUFFICIENT: "too little volume",
    Status.NO_TARGET: "no target",
    Status.NO_DATA: "no data",
}


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Fact:
    """A label/value pair (e.g. "Partner: Acme")."""

    label: str
    value: str
    status: Status | None = None


@dataclass(frozen=True, slots=True)
class KpiRow:
    """One KPI line: value vs target, status, change vs previous window, recent trend."""

    metric: str  # metric key
    label: str
    value: str
    target: str | None
    status: Status
    delta: str | None = None
    sparkline: str | None = None  # unicode sparkline of recent windows, oldest first
    scope: str | None = None  # e.g. partner name when one message lists several partners
    note: str | None = None  # e.g. "412 of 600 answered within 20 s"


@dataclass(frozen=True, slots=True)
class Section:
    """A block of content: optional heading, free text, facts and KPI rows."""

    heading: str | None = None
    text: str | None = None
    facts: tuple[Fact, ...] = ()
    kpis: tuple[KpiRow, ...] = ()
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Confirm:
    title: str
    text: str
    confirm: str = "Yes"
    deny: str = "Cancel"


@dataclass(frozen=True, slots=True)
class Action:
    """A button. ``value`` is opaque data returned on press (e.g. "breach:42")."""

    id: ActionId
    label: str
    value: str = ""
    style: ButtonStyle = ButtonStyle.DEFAULT
    confirm: Confirm | None = None
    url: str | None = None  # a link button instead of a callback


@dataclass(frozen=True, slots=True)
class Image:
    """A chart or picture: a public URL, or PNG bytes for adapters to upload."""

    alt: str
    url: str | None = None
    png: bytes | None = field(default=None, repr=False)
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with a message (e.g. the QBR pack as Markdown).

    Platforms that can take files (Slack) upload it into the message's thread; the others show
    the message alone, so the message text must say how to get the content there.
    """

    filename: str
    content: bytes = field(repr=False)
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message, platform-neutral."""

    title: str
    summary: str | None = None
    severity: Severity = Severity.INFO
    sections: tuple[Section, ...] = ()
    actions: tuple[Action, ...] = ()
    context: str | None = None
    image: Image | None = None
    attachments: tuple[Attachment, ...] = ()
    fallback: str | None = None  # plain text for notifications and platforms that can't show blocks
    thread_key: str | None = None  # groups follow-ups (e.g. "breach:42") so adapters can thread them
    ephemeral: bool = True  # answers to commands are private unless shared

    @property
    def text(self) -> str:
        """Return the plain-text fallback: explicit fallback, else title and summary."""
        if self.fallback:
            return self.fallback
        return f"{self.title}: {self.summary}" if self.summary else self.title


class FieldKind(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    USER = "user"
    DATE = "date"
    TIME = "time"
    NUMBER = "number"
    URL = "url"
    CHECKBOX = "checkbox"


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FormField:
    id: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    options: tuple[Option, ...] = ()
    initial: str | None = None
    placeholder: str | None = None
    hint: str | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    read_only: bool = False  # shown but fixed (e.g. a partner user's own partner)


@dataclass(frozen=True, slots=True)
class Form:
    """A modal / card form. ``state`` is opaque data echoed back on submit."""

    id: FormId
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    intro: str | None = None
    state: str = ""


@dataclass(frozen=True, slots=True)
class FormErrors:
    """Per-field errors to show in the open form; nothing was changed."""

    errors: dict[str, str]


@dataclass(frozen=True, slots=True)
class OpenForm:
    """A command's answer that asks the adapter to open a form (modal / card form)."""

    form: Form


Reply = Message | OpenForm
