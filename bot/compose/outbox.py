"""The admin's view of messages that could not be delivered (App Home "Dead letters")."""

from __future__ import annotations

from bot.messages import Section
from bot.store.outbox import OutboxItem


def dead_letters_section(items: list[OutboxItem], *, total: int | None = None) -> Section:
    """List dead outbox rows with why they died and how to resend them; ``total`` counts them all."""
    if not items:
        return Section(heading="Undelivered messages", text="Every message was delivered.")
    total = max(total or 0, len(items))
    bullets = tuple(
        f"#{item.id} to {item.platform} {item.destination} "
        f"({item.payload.get('title', '')!s:.60}): {item.last_error or 'no reason recorded'}"
        for item in items
    ) + ((f"...and {total - len(items)} older (newest {len(items)} shown); `liaison outbox list --failed` shows all",)
         if total > len(items) else ())
    return Section(heading=f"Undelivered messages ({total})", bullets=bullets,
                   text="Fix the cause, then run `liaison outbox retry ID` (or `--all-failed`).")
