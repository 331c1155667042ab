"""Buttons on breach alerts: Acknowledge (anyone who may see the partner) and Mute 24 h (admins)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.actions import ActionId
from bot.compose.breach import breach_alert, breach_recovered, open_breaches_section
from bot.core import Core
from bot.domain.access import Actor, require_admin, require_partner, require_registered
from bot.interactions import ActionResult, Press, on_action
from bot.messages import Message, Section
from bot.services.evaluation import episode_view, open_episode_views
from bot.services.outbox import enqueue_to_route
from bot.store.alerts import BreachEpisode, EpisodeStatus

MUTE_FOR = timedelta(hours=24)


def _episode_id(value: str) -> int | None:
    prefix, _, raw = value.partition(":")
    return int(raw) if prefix == "breach" and raw.isdigit() else None


def _gone(value: str) -> Message:
    return Message(title="That breach no longer exists",
                   summary=f"Nothing matches {value!r}. Use /sla to see the open breaches.")


async def _refresh(session: AsyncSession, core: Core, episode: BreachEpisode, *, suffix: str) -> Message:
    """Build the alert's new look and queue the same edit for every other copy of it."""
    view, _partner = await episode_view(session, episode)
    if episode.status == EpisodeStatus.RECOVERED and episode.recovered_at is not None:
        message = breach_recovered(view, recovered_at=episode.recovered_at)
    else:
        message = breach_alert(view)
    if episode.alert_key:
        now = core.clock.now()
        await enqueue_to_route(session, partner_id=episode.partner_id, purpose="alerts", message=message,
                               key=episode.alert_key + suffix, now=now, update_of=episode.alert_key)
        if episode.critical:
            client = f"{episode.alert_key}:client"
            await enqueue_to_route(session, partner_id=None, purpose="escalations", message=message,
                                   key=client + suffix, now=now, update_of=client)
    return message


@on_action(ActionId.BREACH_ACKNOWLEDGE)
async def acknowledge(core: Core, press: Press) -> ActionResult:
    """Record who acknowledged the breach and when; show it on the alert."""
    require_registered(press.actor)
    episode_id = _episode_id(press.value)
    async with core.db.transaction() as session:
        episode = await session.get(BreachEpisode, episode_id) if episode_id else None
        if episode is None:
            return ActionResult(reply=_gone(press.value))
        require_partner(press.actor, episode.partner_id)
        if episode.acknowledged_by is None:
            episode.acknowledged_by = press.actor.display
            episode.acknowledged_at = core.clock.now()
            session.add(episode)
        message = await _refresh(session, core, episode, suffix=":ack")
    return ActionResult(replace=message)


@on_action(ActionId.BREACH_MUTE)
async def mute(core: Core, press: Press) -> ActionResult:
    """Silence still-breaching follow-ups for 24 hours (admins only); recovery still posts."""
    require_admin(press.actor, "mute breach alerts")
    episode_id = _episode_id(press.value)
    async with core.db.transaction() as session:
        episode = await session.get(BreachEpisode, episode_id) if episode_id else None
        if episode is None:
            return ActionResult(reply=_gone(press.value))
        now = core.clock.now()
        episode.muted_until = now + MUTE_FOR
        episode.muted_by = press.actor.display
        session.add(episode)
        message = await _refresh(session, core, episode, suffix=f":mute:{int(now.timestamp())}")
    return ActionResult(replace=message)


async def open_breaches(core: Core, actor: Actor) -> Section:
    """Return the "Open breaches" section for /sla and App Home, limited to what ``actor`` may see."""
    require_registered(actor)
    partner_ids = None if actor.is_client_side else [actor.partner_id or -1]
    async with core.db.session() as session:
        views = await open_episode_views(session, partner_ids=partner_ids)
    return open_breaches_section(views)
