"""A gateway that shows what Liaison would post, for the terminal demo (no workspace needed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.console.render import render_message
from bot.messages import Message
from bot.ports import PostResult


@dataclass
class PreviewGateway:
    """Print each outgoing message with its destination instead of sending it."""

    platform: str
    write: Callable[[str], object] = print
    posted: list[tuple[str, Message]] = field(default_factory=list)

    def _show(self, heading: str, message: Message) -> None:
        self.write(f"\n>>> {heading}\n{render_message(message)}\n")

    async def post(self, destination: str, message: Message, *, thread_ref: str | None = None) -> PostResult:
        self.posted.append((destination, message))
        ref = f"{self.platform}:{destination}:{len(self.posted)}"
        where = f"in the thread of {thread_ref}" if thread_ref else ""
        self._show(f"{self.platform} would post to {destination} {where}".rstrip(), message)
        return PostResult(ref=ref)

    async def update(self, ref: str, message: Message) -> None:
        self.posted.append((ref, message))
        self._show(f"{self.platform} would update message {ref}", message)

    async def send_direct(self, user_id: str, message: Message) -> PostResult:
        self.posted.append((f"user:{user_id}", message))
        self._show(f"{self.platform} would DM {user_id}", message)
        return PostResult(ref=f"{self.platform}:dm:{user_id}:{len(self.posted)}")
