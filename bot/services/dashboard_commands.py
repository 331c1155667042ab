"""The `dashboard` verb and the Open-dashboard button: answer with a personal sign-in link."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import ActionId
from bot.commands import CommandError, CommandRequest, command
from bot.compose.dashboard import OPENED, dashboard_button
from bot.core import Core
from bot.domain.access import Actor, require_registered
from bot.domain.wording import possessive
from bot.grammar import resolve_partner
from bot.interactions import ActionResult, Press, on_action
from bot.messages import Message, Reply, Section
from bot.services.dashboard_links import login_link


def _expiry_text(expires: datetime, tz: str) -> str:
    return f"{expires.astimezone(ZoneInfo(tz)):%a %d %b %H:%M} ({tz})"


def link_message(core: Core, actor: Actor, *, path: str = "/dashboard/", what: str = "your dashboard",
                 tz: str = "UTC") -> Message:
    """Compose the private answer holding ``actor``'s personal sign-in link."""
    url, expires = login_link(core.settings, platform=actor.platform, platform_user_id=actor.platform_user_id,
                              now=core.clock.now(), path=path)
    hours = core.settings.dashboard_session_hours
    return Message(
        title="Your dashboard link",
        summary=f"Opens {what}, signed in as {actor.display}. It shows what you can see in chat.",
        sections=(Section(text=url),),
        actions=(dashboard_button(url=url),),
        context=(f"The link is personal: don't forward it. It works until {_expiry_text(expires, tz)}; "
                 f"once opened you stay signed in for {hours:g} hours. Type `dashboard` for a new one."),
        fallback=f"Your dashboard link: {url}",
    )


@command("dashboard", summary="A personal link to the web dashboard (portfolio, partners, QBR pack).",
         usage="dashboard [partner]", examples=("dashboard", "dashboard acme"))
async def dashboard(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    if len(request.args) > 1:
        raise CommandError("Give at most one partner, e.g. `dashboard acme`.")
    if request.args:
        async with core.db.session() as session:
            partner = await resolve_partner(session, request.args[0], actor)
        return link_message(core, actor, path=f"/dashboard/p/{partner.slug}", what=f"{possessive(partner.name)} page",
                            tz=partner.timezone)
    return link_message(core, actor)


@on_action(ActionId.OPEN_DASHBOARD)
async def open_dashboard(core: Core, press: Press) -> ActionResult:
    """Answer the digest's button with the presser's own link (a link button needs nothing)."""
    if press.value == OPENED:
        return ActionResult()
    require_registered(press.actor)
    return ActionResult(reply=link_message(core, press.actor))
