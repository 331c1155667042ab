"""The kpi, sla and help verbs, and the Share-in-channel button."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.actions import ActionId
from bot.commands import CommandError, CommandRequest, command, commands, dispatch
from bot.compose.breach import open_breaches_section
from bot.compose.help import help_message
from bot.compose.kpi import KpiAnswer, TargetStatus, kpi_answer, sla_status
from bot.core import Core
from bot.domain.access import Actor, require_registered
from bot.domain.metrics import CATALOGUE
from bot.domain.sla import judge
from bot.domain.windows import Granularity, WindowError, window_containing
from bot.grammar import ALL, partners_by_token, resolve_partner, split_kpi_args, visible_partners
from bot.interactions import ActionResult, Press, on_action
from bot.messages import Message, Reply
from bot.services.evaluation import open_episode_views
from bot.services.kpi_query import DEFAULT_WINDOW, PORTFOLIO_METRICS, query_kpis, span, threshold_of
from bot.store.measurements import sum_windows
from bot.store.models import Partner, Site, Target

KPI_USAGE = "kpi [partner|all] [metric ...] [site] [channel] [window]"
# Trailing words other features answer for a single partner, e.g. "kpi acme digest".
# Each maps to an async handler (core, request, partner) -> Reply.
KPI_EXTENSIONS: dict[str, Callable[[Core, CommandRequest, Partner], Awaitable[Reply]]] = {}


def _default_metrics(session_partner_targets: list[Target]) -> list[str]:
    """Return the metrics a partner has targets for, in catalogue order."""
    keys = {t.metric for t in session_partner_targets if t.active}
    return [k for k in CATALOGUE if k in keys] or list(PORTFOLIO_METRICS)


@command("kpi", summary="KPIs with target, status, change and trend.", usage=KPI_USAGE,
         examples=("kpi", "kpi acme", "kpi all csat last-week", "kpi acme aht fcr 2026-W46", "kpi acme sl krakow last-week",
                   "kpi northwind sl voice 28d"))
async def kpi(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    if request.args[:1] == ("help",):
        return help_message([s for s in commands() if s.verb == "kpi"], registered=True)
    async with core.db.session() as session:
        tokens = await partners_by_token(session, actor)
        first = request.args[0].lower() if request.args else ""
        # Sites are words only for the one partner asked about, after the access check, so a
        # partner user's suggestions never name another partner's sites.
        one: Partner | None = None
        if first in tokens and first != ALL:
            one = await resolve_partner(session, first, actor)
        elif not actor.is_client_side and first != ALL:
            own = await visible_partners(session, actor)
            one = own[0] if len(own) == 1 else None
        sites = await _sites_by_token(session, one) if one else {}
        ask = split_kpi_args(request.args, set(tokens), extras=tuple(KPI_EXTENSIONS), site_tokens=tuple(sites))
        if ask.partner and ask.partner != ALL:
            partners = [one or await resolve_partner(session, ask.partner, actor)]
        else:  # "all", or nothing: client side sees the portfolio, partner users their own
            partners = await visible_partners(session, actor)
        if not partners:
            raise CommandError("There are no active partners to show yet. An admin adds them with `liaison config apply`.")
        if ask.extra:
            if len(partners) != 1:
                raise CommandError(f"'{ask.extra[0]}' needs one partner, e.g. `kpi acme {ask.extra[0]}`.")
            return await KPI_EXTENSIONS[ask.extra[0]](core, request, partners[0])
        metrics = ask.metrics
        if not metrics:
            if len(partners) == 1:
                targets = (await session.execute(select(Target).where(Target.partner_id == partners[0].id))).scalars().all()
                metrics = _default_metrics(list(targets))
            else:
                metrics = list(PORTFOLIO_METRICS)
        site = sites.get(ask.site) if ask.site else None
        window_spec = ask.window or DEFAULT_WINDOW
        per_site: list[tuple[str, list]] = []
        try:
            lines = await query_kpis(session, partners=partners, metrics=metrics, window_spec=window_spec,
                                     now=core.clock.now(), site_id=site.id if site else None, channel=ask.channel)
            every_site = sorted({s.id: s for s in sites.values()}.values(), key=lambda s: s.name)
            if len(partners) == 1 and site is None and len(every_site) > 1:
                for each in every_site:
                    per_site.append((each.name, await query_kpis(
                        session, partners=partners, metrics=metrics, window_spec=window_spec, now=core.clock.now(),
                        site_id=each.id, channel=ask.channel)))
        except WindowError as exc:
            raise CommandError(str(exc)) from exc
    label = lines[0].window.label if lines else window_spec
    text = " ".join(("kpi", *request.args))
    scope = " · ".join(x for x in (site.name if site else None, ask.channel) if x)
    return kpi_answer(lines, ask=KpiAnswer(command_text=text, window_label=label, scope=scope), sites=per_site)


async def _sites_by_token(session: AsyncSession, partner: Partner) -> dict[str, Site]:
    """Map a partner's site words (key, name, name without accents) to its sites."""
    out: dict[str, Site] = {}
    for site in (await session.execute(select(Site).where(Site.partner_id == partner.id))).scalars().all():
        plain = unicodedata.normalize("NFKD", site.name).encode("ascii", "ignore").decode()
        for word in (site.key, site.name, plain):
            if word and " " not in word:
                out[word.lower()] = site
    return out


async def target_statuses(session: AsyncSession, partners: list[Partner], *, now) -> list[TargetStatus]:  # noqa: ANN001
    """Judge each active target over its newest complete window and the running one."""
    out: list[TargetStatus] = []
    ids = [p.id for p in partners]
    sites = dict((await session.execute(select(Site.id, Site.name).where(Site.partner_id.in_(ids)))).all())
    targets = (await session.execute(
        select(Target).where(Target.partner_id.in_(ids), Target.active.is_(True)).order_by(Target.partner_id, Target.id)
    )).scalars().all()
    by_id = {p.id: p for p in partners}
    plans = []
    for t in targets:
        running = window_containing(Granularity(t.window), now, ZoneInfo(by_id[t.partner_id].timezone))
        plans.append((t, running.previous(), running))
    sums = await sum_windows(session, wanted=[(t.partner_id, w) for t, c, r in plans for w in (c, r)],
                             metrics={t.metric for t in targets})
    for t, complete, running in plans:
        partner = by_id[t.partner_id]
        values = []
        for w in (complete, running):
            parts = sums.parts(t.partner_id, t.metric, span(w), site_id=t.site_id, channel=t.channel)
            values.append((parts.value if parts else None, parts.volume if parts else 0.0))
        threshold = threshold_of(t)
        scope = " · ".join(x for x in (sites.get(t.site_id) if t.site_id else "all sites", t.channel or "all channels") if x)
        out.append(TargetStatus(
            partner_name=partner.name, scope=scope, metric=CATALOGUE[t.metric], comparator=t.comparator,
            target=t.target_value, window_label=complete.label, value=values[0][0],
            status=judge(values[0][0], values[0][1], threshold), running_label=running.label,
            running_value=values[1][0], running_status=judge(values[1][0], values[1][1], threshold),
            volume=values[0][1],
        ))
    return out


@command("sla", summary="SLA compliance per target and the open breaches.", usage="sla [partner]",
         examples=("sla", "sla acme"))
async def sla(core: Core, request: CommandRequest) -> Reply:
    actor = request.actor
    require_registered(actor)
    async with core.db.session() as session:
        if request.args:
            partners = [await resolve_partner(session, request.args[0], actor)]
        else:
            partners = await visible_partners(session, actor)
        statuses = await target_statuses(session, partners, now=core.clock.now())
        views = await open_episode_views(session, partner_ids=[p.id for p in partners])
    scope = partners[0].name if len(partners) == 1 else "all partners"
    return sla_status(statuses, open_breaches=open_breaches_section(views), title_scope=scope)


@command("help", summary="What Liaison can do, with examples.", usage="help", examples=("help",), slash=False)
async def help_(core: Core, request: CommandRequest) -> Reply:
    return help_message(commands(), registered=request.actor.registered,
                        prefix="/" if request.platform == "slack" else "")


def shared_copy(message: Message, actor: Actor) -> Message:
    """Return a public copy of an answer, saying who shared it, without the Share button."""
    from dataclasses import replace

    note = f"Shared by {actor.display}."
    return replace(message, ephemeral=False, actions=tuple(a for a in message.actions if a.id is not ActionId.SHARE_IN_CHANNEL),
                   context=f"{note} {message.context}" if message.context else note)


@on_action(ActionId.SHARE_IN_CHANNEL)
async def share_in_channel(core: Core, press: Press) -> ActionResult:
    """Re-run the shared command for the presser (re-authorized) and post it publicly."""
    reply = await dispatch(core, text=press.value, actor=press.actor, platform=press.actor.platform,
                           channel=press.channel)
    if not isinstance(reply, Message) or not any(a.id is ActionId.SHARE_IN_CHANNEL for a in reply.actions):
        # A refusal or error is answered privately; nothing goes to the channel.
        return ActionResult(reply=reply if isinstance(reply, Message) else None)
    return ActionResult(post_in_channel=shared_copy(reply, press.actor))

