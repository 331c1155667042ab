"""Shared pieces of the command grammar: partner, metric and window tokens with suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import CommandError, suggest
from bot.domain.access import AccessDenied, Actor
from bot.domain.channels import ContactChannel
from bot.domain.metrics import lookup
from bot.domain.metrics import names as metric_names
from bot.domain.windows import WINDOW_HELP, WINDOW_WORDS, looks_like_window
from bot.store.models import Partner

ALL = "all"
CHANNELS = tuple(c.value for c in ContactChannel)


@dataclass
class KpiArgs:
    """What ``kpi [partner|all] [metric ...] [window] [digest]`` asked for."""

    partner: str | None = None  # slug, "all" or None (default for the actor)
    metrics: list[str] = field(default_factory=list)
    window: str | None = None
    extra: list[str] = field(default_factory=list)  # trailing words such as "digest"
    site: str | None = None  # a site key or name of the one partner asked about
    channel: str | None = None  # voice, chat, email, social


async def partners_by_token(session: AsyncSession, actor: Actor | None = None) -> dict[str, Partner]:
    """Map every accepted partner token (slug, lower-cased name) to its partner.

    Given an ``actor``, only the partners they may see: a partner user's typo is matched and
    suggested against their own partner only, so no answer reveals another partner's name.
    """
    rows = (await session.execute(select(Partner).where(Partner.active.is_(True)))).scalars().all()
    if actor is not None:
        rows = [p for p in rows if actor.can_see_partner(p.id)]
    tokens: dict[str, Partner] = {}
    for p in rows:
        tokens[p.slug.lower()] = p
        tokens[p.name.lower()] = p
    return tokens


def split_kpi_args(args: Sequence[str], partner_tokens: set[str], *, extras: Sequence[str] = (),
                   site_tokens: Sequence[str] = ()) -> KpiArgs:
    """Sort tokens into partner / metrics / site / channel / window; unknown ones raise CommandError.

    ``site_tokens`` are the sites of the one partner asked about (never another partner's).
    """
    out = KpiArgs()
    sites = {t.lower() for t in site_tokens}
    for i, raw in enumerate(args):
        token = raw.lower()
        if token in extras:
            out.extra.append(token)
        elif i == 0 and (token == ALL or token in partner_tokens):
            out.partner = token
        elif token in CHANNELS or token in sites:
            slot = "channel" if token in CHANNELS else "site"
            if getattr(out, slot):
                raise CommandError(f"Two {slot}s given ('{getattr(out, slot)}' and '{raw}'); give one.")
            setattr(out, slot, token)
        elif lookup(token):
            out.metrics.append(lookup(token).key)  # type: ignore[union-attr]
        elif looks_like_window(token):
            if out.window:
                raise CommandError(f"Two windows given ('{out.window}' and '{raw}'); give one.")
            out.window = raw
        else:
            raise _unknown_token(raw, i, partner_tokens, sites)
    return out


def _unknown_token(raw: str, position: int, partner_tokens: set[str], sites: set[str] = frozenset()) -> CommandError:
    token = raw.lower()
    candidates: list[str] = []
    if position == 0:
        candidates += suggest(token, partner_tokens | {ALL})
    candidates += suggest(token, sites) + suggest(token, CHANNELS)
    candidates += suggest(token, metric_names())
    candidates += suggest(token, WINDOW_WORDS)
    what = "a partner, metric or window" if position == 0 else "a metric, site, channel or window"
    return CommandError(
        f"'{raw}' is not {what} I know. Windows: {WINDOW_HELP}.",
        suggestions=tuple(dict.fromkeys(candidates))[:4],
    )


async def resolve_partner(session: AsyncSession, token: str, actor: Actor) -> Partner:
    """Return the partner a token names, if the actor may see it; else a clear error."""
    tokens = await partners_by_token(session, actor)
    partner = tokens.get(token.lower())
    if partner is None:
        # another partner's name reads exactly like a missing one, suggestions only from the visible
        raise unknown_partner(token, {p.slug for p in tokens.values()})
    if not actor.can_see_partner(partner.id):  # not reachable through the filtered tokens; kept as a guard
        raise AccessDenied(NOT_VISIBLE)
    return partner


NOT_VISIBLE = "You can only see your own partner's data."


def unknown_partner(token: str, visible_slugs: set[str] | list[str]) -> CommandError:
    """Say a partner token names no partner the actor may see (the same words whether it exists)."""
    return CommandError(f"There is no partner called '{token}' that you can see.",
                        suggestions=tuple(suggest(token, set(visible_slugs))))


async def visible_partners(session: AsyncSession, actor: Actor) -> list[Partner]:
    """Return the partners the actor may see, by name."""
    stmt = select(Partner).where(Partner.active.is_(True)).order_by(Partner.name)
    if not actor.is_client_side:
        stmt = stmt.where(Partner.id == (actor.partner_id or -1))
    return list((await session.execute(stmt)).scalars().all())
