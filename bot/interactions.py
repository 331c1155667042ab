"""Button presses and form submissions: one registry, the same for every adapter.

Feature modules register handlers with ``@on_action(ActionId.X)`` / ``@on_form(FormId.Y)``;
``bot.features`` imports them all. Adapters call ``handle_action``/``handle_form`` with a
typed press and render what comes back. Authorization happens inside each handler, on the
server, whatever the message showed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from bot.actions import ActionId, FormId
from bot.core import Core
from bot.domain.access import AccessDenied, Actor
from bot.messages import FormErrors, Message, OpenForm
from bot.text import clean_text


@dataclass(frozen=True, slots=True)
class Press:
    """A button press as the core sees it."""

    action: ActionId
    value: str
    actor: Actor
    # platform message ref of the message holding the button (to update it in place)
    message_ref: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    form: FormId
    values: dict[str, str | list[str] | None]
    actor: Actor
    state: str = ""

    def text(self, key: str) -> str:
        """Return a field's value as stripped text ("" when empty; a list gives its first item)."""
        value = self.values.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        return str(value).strip() if value is not None else ""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What the adapter does after a press: replace the message, answer privately, open a form."""

    replace: Message | None = None  # updated version of the pressed message
    reply: Message | None = None  # private answer to the presser
    open_form: OpenForm | None = None
    post_in_channel: Message | None = None  # e.g. "Share in channel": post publicly


@dataclass(frozen=True, slots=True)
class FormResult:
    errors: FormErrors | None = None  # keep the form open and show these
    reply: Message | None = None  # confirmation to the submitter
    extra: dict = field(default_factory=dict)


ActionHandler = Callable[[Core, Press], Awaitable[ActionResult]]
FormHandler = Callable[[Core, Submission], Awaitable[FormResult]]

_ACTIONS: dict[ActionId, ActionHandler] = {}
_FORMS: dict[FormId, FormHandler] = {}


def on_action(action: ActionId) -> Callable[[ActionHandler], ActionHandler]:
    def register(fn: ActionHandler) -> ActionHandler:
        if action in _ACTIONS:
            raise RuntimeError(f"two handlers for {action}")
        _ACTIONS[action] = fn
        return fn
    return register


def on_form(form: FormId) -> Callable[[FormHandler], FormHandler]:
    def register(fn: FormHandler) -> FormHandler:
        if form in _FORMS:
            raise RuntimeError(f"two handlers for {form}")
        _FORMS[form] = fn
        return fn
    return register


def _denied(exc: AccessDenied) -> Message:
    from bot.compose.errors import access_denied

    return access_denied(str(exc))


async def handle_action(core: Core, press: Press) -> ActionResult:
    """Run the handler registered for a button; refusals come back as a private reply."""
    import bot.features  # noqa: F401  (registers every handler)

    handler = _ACTIONS.get(press.action)
    if handler is None:
        from bot.compose.errors import unknown_action

        return ActionResult(reply=unknown_action(str(press.action)))
    try:
        return await handler(core, press)
    except AccessDenied as exc:
        return ActionResult(reply=_denied(exc))


# the longest field any form offers (descriptions, notes, comments); checked on the server too
FIELD_MAX = 3000
ALREADY_SAVED = "Already saved: that form was submitted once (a second click or a retry changes nothing)."


def _submission_key(submission: Submission, once: str) -> str:
    import json

    from bot.store.inbound_events import fingerprint

    values = json.dumps(submission.values, sort_keys=True, default=str)
    return "form:" + fingerprint(once, str(submission.form), submission.actor.platform_user_id,
                                 submission.state, values)


async def handle_form(core: Core, submission: Submission, *, once: str | None = None) -> FormResult:
    """Run the handler registered for a form submission, at most once per ``once`` key.

    ``once`` names the form instance (Slack's view id, the Teams card's message id): the same
    instance submitted again with the same values (a double click, a client retry) acts once.
    A submission answered with errors is forgotten, so the corrected form goes through.
    """
    import bot.features  # noqa: F401
    from bot.store.inbound_events import first_time, forget

    handler = _FORMS.get(submission.form)
    if handler is None:
        from bot.compose.errors import unknown_action

        return FormResult(reply=unknown_action(str(submission.form)))
    submission = replace(submission, values={
        name: clean_text(value) if isinstance(value, str)
        else [clean_text(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) else value
        for name, value in submission.values.items()}, state=clean_text(submission.state))
    too_long = {name: f"Keep it under {FIELD_MAX} characters (this is {len(value)})."
                for name, value in submission.values.items() if isinstance(value, str) and len(value) > FIELD_MAX}
    if too_long:  # the form says so too, but a client can send anything
        return FormResult(errors=FormErrors(too_long))
    key = _submission_key(submission, once) if once else None
    platform = submission.actor.platform
    if key is not None:
        async with core.db.transaction() as session:
            fresh = await first_time(session, platform=platform, event_id=key, now=core.clock.now())
        if not fresh:
            return FormResult(reply=Message(title=ALREADY_SAVED))
    try:
        result = await handler(core, submission)
    except AccessDenied as exc:
        result = FormResult(reply=_denied(exc))
    except BaseException:
        if key is not None:  # nothing was saved: let the same submission be tried again
            async with core.db.transaction() as session:
                await forget(session, platform=platform, event_id=key)
        raise
    if key is not None and result.errors is not None:
        async with core.db.transaction() as session:
            await forget(session, platform=platform, event_id=key)
    return result


def registered_actions() -> set[ActionId]:
    import bot.features  # noqa: F401

    return set(_ACTIONS)
