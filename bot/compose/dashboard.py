"""The Open-dashboard button (digests, Home, link answers)."""

from __future__ import annotations

from bot.actions import ActionId
from bot.messages import Action, ButtonStyle

# The value of a button that asks for a personal link; a link button (Home) opens its URL itself.
ASK_FOR_LINK = "link"
OPENED = "opened"


def dashboard_button(*, url: str | None = None) -> Action:
    """Return the Open-dashboard button: a link when ``url`` is personal, else one that asks for a link."""
    return Action(ActionId.OPEN_DASHBOARD, "Open dashboard", value=OPENED if url else ASK_FOR_LINK,
                  style=ButtonStyle.PRIMARY, url=url)
