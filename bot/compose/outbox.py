"""The admin's view of messages that could not be delivered (App Home "Dead letters")."""

from __future__ import annotations

from bot.messages import Section
from bot.store.outbox import OutboxItem


def dead_letters_section(items: list[OutboxItem]) -> Section:
    """List dead outbox rows with why they died and how to resend them."""
    if not items:
        return Section(heading="Undelivered messages", text="Every message was delivered.")
    bullets = tuple(
        f"#{item.id} to {item.platform} {item.destination} "
        f"({item.payload.get('title', '')!s:.60}): {item.last_error or 'no reason recorded'}"
        for item in items
    )
    return Section(heading="Undelivered messages", bullets=bullets,
                   text="Fix the cause, then run `liaison outbox retry ID` (or `--all-failed`).")
