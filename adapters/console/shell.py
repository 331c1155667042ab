"""The console session: type the same commands as in Slack or Teams, press buttons, fill forms."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from adapters.console.render import render, render_message
from bot.commands import dispatch, tokenize
from bot.compose.errors import internal_error
from bot.core import Core
from bot.domain.access import Actor
from bot.interactions import Press, Submission, handle_action, handle_form
from bot.messages import Form, Message, OpenForm, Reply
from bot.services.identity import resolve_actor

log = logging.getLogger(__name__)
PLATFORM = "console"
SHELL_HELP = (
    "Type a command as in Slack (without the slash): kpi acme, kpi all csat last-week, sla, escalate, help.\n"
    "Console words: press N (press button N of the last message), submit field=value ... (fill the open form),\n"
    "as USER (act as another console user: admin, lead, acme-tl, ...), whoami, quit."
)


@dataclass
class ConsoleSession:
    """State of one console conversation: who is typing, the last message and the open form."""

    core: Core
    user: str = "admin"
    write: Callable[[str], object] = print
    last_message: Message | None = None
    open_form: Form | None = None
    history: list[str] = field(default_factory=list)

    async def actor(self) -> Actor:
        return await resolve_actor(self.core, platform=PLATFORM, platform_user_id=self.user)

    def show(self, reply: Reply | None) -> None:
        if reply is None:
            return
        if isinstance(reply, OpenForm):
            self.open_form = reply.form
        else:
            self.last_message = reply
        self.write(render(reply))

    async def handle(self, line: str) -> bool:
        """Answer one input line; return False when the user wants to leave."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        self.history.append(text)
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in ("quit", "exit"):
            return False
        if word == "as":
            wanted = rest.strip()
            if not wanted:
                self.write("As whom? Give a console user id from liaison.yaml, e.g. `as acme-tl`.")
                return True
            actor = await resolve_actor(self.core, platform=PLATFORM, platform_user_id=wanted)
            if not actor.registered:  # staying someone real beats silently becoming nobody
                self.write(f"'{wanted}' is not a console user in liaison.yaml; still acting as {self.user}.")
                return True
            self.user = wanted
            self.write(f"Now acting as {self.user} ({actor.role}).")
            return True
        if word == "whoami":
            actor = await self.actor()
            self.write(f"{self.user}: {actor.role or 'not registered'}"
                       + (f", partner {actor.partner_slug}" if actor.partner_slug else ""))
            return True
        if word in ("?", "shell-help"):
            self.write(SHELL_HELP)
            return True
        if word == "press":
            await self._press(rest.strip())
            return True
        if word == "submit":
            await self._submit(rest)
            return True
        actor = await self.actor()
        self.show(await dispatch(self.core, text=text, actor=actor, platform=PLATFORM, channel="console"))
        return True

    async def _press(self, arg: str) -> None:
        if self.last_message is None or not self.last_message.actions:
            self.write("There is no button to press: the last message has none.")
            return
        if not arg.isdigit() or not 1 <= int(arg) <= len(self.last_message.actions):
            self.write(f"Press which button? Give a number from 1 to {len(self.last_message.actions)}.")
            return
        action = self.last_message.actions[int(arg) - 1]
        result = await handle_action(self.core, Press(action=action.id, value=action.value,
                                                      actor=await self.actor(), channel="console"))
        for reply in (result.replace, result.post_in_channel, result.reply):
            self.show(reply)
        if result.open_form:
            self.show(result.open_form)

    async def _submit(self, rest: str) -> None:
        if self.open_form is None:
            self.write("No form is open. Commands such as `escalate`, `feedback` or `report` open one.")
            return
        values: dict[str, str | list[str] | None] = {f.id: f.initial for f in self.open_form.fields}
        for token in tokenize(rest):
            key, sep, value = token.partition("=")
            if not sep:
                self.write(f"'{token}' is not field=value.")
                return
            values[key.strip()] = value
        form = self.open_form
        result = await handle_form(self.core, Submission(form=form.id, values=values, actor=await self.actor(),
                                                         state=form.state))
        if result.errors:
            self.write("The form was not accepted; nothing was changed:\n"
                       + "\n".join(f"  {k}: {v}" for k, v in result.errors.errors.items()))
            return
        self.open_form = None
        self.show(result.reply)


async def answer(session: ConsoleSession, line: str) -> bool:
    """Answer one line and never end the session on a failure: say so in one line, log the trace."""
    try:
        return await session.handle(line)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("console line failed (ref %s): %r", reference, line[:200])
        session.write(render(internal_error(reference)))
        return True


async def run_lines(session: ConsoleSession, lines: Iterable[str], *, echo: bool = True) -> None:
    """Answer each line in turn (scripted use: piped stdin, tests)."""
    for line in lines:
        if echo and line.strip():
            session.write(f"\n{session.user}> {line.strip()}")
        if not await answer(session, line):
            break


async def run_interactive(session: ConsoleSession, stdin: TextIO) -> None:
    """Prompt, answer, repeat until quit or end of input."""
    try:
        import readline  # noqa: F401  (gives input() line editing and Up/Down history where available)
    except ImportError:  # Windows without pyreadline: plain input still works
        pass
    session.write(SHELL_HELP)
    loop = asyncio.get_running_loop()
    while True:
        session.write("")
        try:
            line = await loop.run_in_executor(None, lambda: input(f"{session.user}> "))
        except EOFError:
            break
        if not await answer(session, line):
            break


async def run_shell(core: Core, *, user: str = "admin", stdin: TextIO | None = None,
                    write: Callable[[str], object] = print) -> None:
    """Open the console on ``core``: interactive on a terminal, one command per line otherwise."""
    stream = stdin or sys.stdin
    session = ConsoleSession(core=core, user=user, write=write)
    if stream.isatty():
        await run_interactive(session, stream)
    else:
        await run_lines(session, stream)


__all__ = ["ConsoleSession", "render_message", "run_lines", "run_shell"]
