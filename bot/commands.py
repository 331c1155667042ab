"""The one command grammar, shared by Slack slash commands, Teams messages and the console.

Text -> CommandRequest -> handler -> Reply. Verbs register with ``@command``; feature modules
(imported by ``bot.features``) add theirs. Slack's ``/kpi acme aht`` and Teams' ``kpi acme aht``
reach the same handler with the same tokens.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.core import Core
from bot.domain.access import AccessDenied, Actor
from bot.messages import Reply

DATE_OUT_OF_RANGE = "That date is out of range; use a year from 1970 to 2100."


class CommandError(Exception):
    """A request that can't be answered as asked; rendered as a friendly ephemeral reply."""

    def __init__(self, problem: str, *, suggestions: Iterable[str] = (), usage: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.suggestions = tuple(suggestions)
        self.usage = usage


@dataclass(frozen=True, slots=True)
class CommandRequest:
    verb: str
    args: tuple[str, ...]
    text: str  # the raw text after the verb
    actor: Actor
    platform: str
    channel: str | None = None  # where it was typed, when known


CommandHandler = Callable[[Core, CommandRequest], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    verb: str
    handler: CommandHandler
    summary: str
    usage: str
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    slash: bool = True  # exposed as a Slack slash command /<verb>


_COMMANDS: dict[str, CommandSpec] = {}
_ALIASES: dict[str, str] = {}


def command(verb: str, *, summary: str, usage: str, examples: tuple[str, ...] = (),
            aliases: tuple[str, ...] = (), slash: bool = True) -> Callable[[CommandHandler], CommandHandler]:
    """Register a handler for ``verb`` (and its aliases)."""

    def register(fn: CommandHandler) -> CommandHandler:
        if verb in _COMMANDS:
            raise RuntimeError(f"two handlers for command {verb!r}")
        _COMMANDS[verb] = CommandSpec(verb, fn, summary, usage, examples, aliases, slash)
        for alias in aliases:
            _ALIASES[alias] = verb
        return fn

    return register


def commands() -> list[CommandSpec]:
    """Return every registered command, in registration order."""
    import bot.features  # noqa: F401

    return list(_COMMANDS.values())


def tokenize(text: str) -> list[str]:
    """Split command text like a shell (quotes group words); tolerate unbalanced quotes."""
    cleaned = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    try:
        return shlex.split(cleaned)
    except ValueError:
        return cleaned.split()


def suggest(token: str, candidates: Iterable[str], *, limit: int = 3) -> list[str]:
    """Return the closest valid names to ``token``."""
    return difflib.get_close_matches(token.lower(), list(candidates), n=limit, cutoff=0.5)


def parse(text: str, *, slash: str | None = None) -> tuple[str, list[str], str]:
    """Split input into (verb, args, raw rest). ``slash`` is Slack's "/kpi" when given."""
    if slash:
        verb = slash.lstrip("/").lower()
        rest = text.strip()
    else:
        stripped = text.strip()
        head, _, rest = stripped.partition(" ")
        verb = head.lstrip("/").lower()
        rest = rest.strip()
    return _ALIASES.get(verb, verb), tokenize(rest), rest


async def dispatch(core: Core, *, text: str, actor: Actor, platform: str,
                   channel: str | None = None, slash: str | None = None) -> Reply:
    """Answer one command; never raises for user mistakes or refusals."""
    import bot.features  # noqa: F401
    from bot.compose.errors import access_denied, not_understood
    from bot.text import clean_text

    verb, args, rest = parse(clean_text(text), slash=slash)
    if verb == "liaison":  # "/liaison help", "/liaison kpi acme": the umbrella command
        verb, args, rest = parse(rest or "help")
    if not verb:
        verb = "help"
    spec = _COMMANDS.get(verb)
    if spec is None:
        names = list(_COMMANDS) + list(_ALIASES)
        return not_understood(
            f"'{verb}' is not a Liaison command.",
            suggestions=tuple(suggest(verb, names)),
            usage="Type `help` to see every command.",
        )
    request = CommandRequest(verb, tuple(args), rest, actor, platform, channel)
    try:
        return await spec.handler(core, request)
    except CommandError as exc:
        return not_understood(exc.problem, suggestions=exc.suggestions, usage=exc.usage or spec.usage)
    except AccessDenied as exc:
        return access_denied(str(exc))
    except OverflowError:  # a date such as 9999-12-31 or 0001-Q1 pushed past what a calendar holds
        return not_understood(DATE_OUT_OF_RANGE, usage=spec.usage)
