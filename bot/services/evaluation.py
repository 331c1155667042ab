"""Judge every active SLA target over its newest complete windows and run breach episodes.

Incremental: each target keeps an EvaluationMark (the end of its newest judged window with
data); a run judges only the windows after it, so a new day of data costs a day of work.
A run judges every target in one transaction with a fixed number of statements (all locks,
marks, newest episodes and window sums read at once); episode changes and the messages they
cause commit with it. If that transaction fails, the run rolls it back and judges target by
target, one transaction each, so one bad target fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.compose.breach import (
    BreachView,
    PreBreachView,
    breach_alert,
    breach_followup,
    breach_recovered,
    prebreach_warning,
)
from bot.core import Core
from bot.domain.metrics import CATALOGUE, Aggregation
from bot.domain.sla import Threshold, judge
from bot.domain.sparkline import sparkline
from bot.domain.windows import Granularity, Window, window_containing
from bot.messages import Message, Status
from bot.services.outbox import enqueue_to_route
from bot.store.alerts import BreachEpisode, EpisodeStatus, EvaluationMark, PreBreachWarning
from bot.store.locks import lock_all_in, locked_transaction, locked_transaction_all
from bot.store.measurements import Parts, Span, WindowSums, sum_parts, sum_windows
from bot.store.models import Partner, Route, Site, Target

log = logging.getLogger(__name__)

# Without a mark or an explicit ``since``, look back at most this many windows.
MAX_CATCHUP_WINDOWS = 48
SPARK_WINDOWS = 12
# A running window is projected only once this share of it has passed (too noisy before).
PREBREACH_MIN_ELAPSED = 0.25
CLIENT_PURPOSE = "escalations"


@dataclass
class EvaluationReport:
    targets: int = 0
    windows: int = 0
    opened: int = 0
    followups: int = 0
    recovered: int = 0
    warnings: int = 0
    messages: int = 0
    failed: int = 0  # targets whose evaluation raised (logged with their id)


@dataclass(frozen=True, slots=True)
class _Ctx:
    target: Target
    partner: Partner
    tz: ZoneInfo
    threshold: Threshold
    sites: dict[int, str]
    followup_hours: float = 0.0
    # Read once for a whole run: routes per (partner_id, purpose), and the spark series of the
    # windows in ``series_of`` (by start); a view or send outside them reads its own.
    routes: dict[tuple[int | None, str], list[Route]] | None = None
    series: WindowSums | None = None
    series_of: frozenset[datetime] = frozenset()
    # The episode messages of a run, in the order they arose; enqueued by _drain once new
    # episodes have their ids (one batched insert instead of a flush per announcement).
    outgoing: list[_Pending] = field(default_factory=list)


# An episode announced in this run before it had an id; _drain numbers it ("breach:<id>").
_UNNUMBERED = "breach:?"


@dataclass(slots=True)
class _Pending:
    """One episode message waiting for the episode's id: its view as of the window judged."""

    ctx: _Ctx
    episode: BreachEpisode
    view: BreachView
    compose: Callable[[BreachView], Message]
    sends: tuple[tuple[str, bool, bool], ...]  # (key suffix, threaded under the alert, updates the alert)
    critical: bool  # as when it arose: the client's channel gets it too


def threshold_of(target: Target) -> Threshold:
    return Threshold(metric=target.metric, comparator=target.comparator, target=target.target_value,
                     warning=target.warning_value, min_volume=target.min_volume)


def scope_label(target: Target, sites: dict[int, str]) -> str:
    site = sites.get(target.site_id, "site?") if target.site_id is not None else "all sites"
    return f"{site} · {target.channel or 'all channels'}"


async def _parts(session: AsyncSession, target: Target, start: datetime, end: datetime,
                 group_by: str | None = None) -> dict[tuple, Parts]:
    return await sum_parts(session, partner_ids=[target.partner_id], metrics=[target.metric], start=start,
                           end=end, site_id=target.site_id, channel=target.channel, group_by=group_by)


async def _window_parts(session: AsyncSession, target: Target, w: Window) -> Parts | None:
    found = await _parts(session, target, w.start_utc, w.end_utc)
    return found.get((target.partner_id, target.metric))


def _span(w: Window) -> Span:
    return w.start_utc, w.end_utc


async def _series_sums(session: AsyncSession, wanted: list[tuple[Target, Window]]) -> WindowSums:
    """Sum each target's spark series (ending with its window) in one statement, by site and channel."""
    pairs = [(t.partner_id, sw) for t, w in wanted for sw in w.series(SPARK_WINDOWS)]
    return await sum_windows(session, wanted=pairs, metrics={t.metric for t, _w in wanted})


def _contributor(ctx: _Ctx, w: Window, sums: WindowSums) -> str | None:
    """Name the site or channel with the largest shortfall against the target in ``w``."""
    target, metric = ctx.target, CATALOGUE[ctx.target.metric]
    if metric.aggregation is not Aggregation.RATIO:
        return None
    group_by = "channel" if target.channel is None else ("site_id" if target.site_id is None else None)
    if group_by is None:
        return None
    groups = sums.grouped(target.partner_id, target.metric, _span(w), by="channel" if group_by == "channel" else "site",
                          site_id=target.site_id, channel=target.channel)
    best: tuple[float, str] | None = None
    for key, parts in groups.items():
        need = target.target_value / metric.scale * parts.den
        short = need - parts.num if target.comparator == ">=" else parts.num - need
        name = str(key) if group_by == "channel" else ctx.sites.get(key, "partner level")
        if short > 0 and (best is None or short > best[0]):
            best = (short, name)
    if best is None:
        return None
    word = "short" if target.comparator == ">=" else "over"
    return f"{best[1]}: {best[0]:,.0f} {metric.num_label} {word}"


async def _view(session: AsyncSession, ctx: _Ctx, episode: BreachEpisode, w: Window, parts: Parts,
                sums: WindowSums | None = None) -> BreachView:
    if sums is None and ctx.series is not None and w.start_utc in ctx.series_of:
        sums = ctx.series
    if sums is None:
        sums = await _series_sums(session, [(ctx.target, w)])
    t = ctx.target
    values = []
    for sw in w.series(SPARK_WINDOWS):
        p = sums.parts(t.partner_id, t.metric, _span(sw), site_id=t.site_id, channel=t.channel)
        values.append(p.value if p else None)
    return BreachView(
        episode_id=episode.id, partner_name=ctx.partner.name, scope=scope_label(ctx.target, ctx.sites),
        metric=ctx.target.metric, comparator=ctx.target.comparator, target=ctx.target.target_value,
        value=parts.value, worst=episode.worst_value, num=parts.num, den=parts.den, window_label=w.label,
        since=episode.opened_at.astimezone(ctx.tz), windows_breached=episode.windows_breached,
        spark=sparkline(values), contributor=_contributor(ctx, w, sums), critical=episode.critical,
        acknowledged_by=episode.acknowledged_by, acknowledged_at=episode.acknowledged_at,
        muted_until=episode.muted_until, muted_by=episode.muted_by,
    )


def _send(ctx: _Ctx, episode: BreachEpisode, view: BreachView, compose: Callable[[BreachView], Message],
          *sends: tuple[str, bool, bool]) -> None:
    """Queue one message of an episode (sent as ``sends``) for _drain, keeping the order they arise."""
    ctx.outgoing.append(_Pending(ctx, episode, view, compose, sends, episode.critical))


async def _drain(session: AsyncSession, outgoing: list[_Pending], *, now: datetime,
                 report: EvaluationReport) -> None:
    """Number the episodes announced in this run (one flush for all), then enqueue their messages in order."""
    if not outgoing:
        return
    if any(p.episode.alert_key == _UNNUMBERED for p in outgoing):
        await session.flush()  # new episodes go in one batch, in the order added (the newest has the highest id)
        for p in outgoing:
            if p.episode.alert_key == _UNNUMBERED:
                p.episode.alert_key = f"breach:{p.episode.id}"
    for p in outgoing:
        view = p.view if p.view.episode_id is not None else replace(p.view, episode_id=p.episode.id)
        message = p.compose(view)
        for suffix, thread, update in p.sends:
            report.messages += await _enqueue(session, p.ctx, p.episode, message, suffix=suffix, now=now,
                                              critical=p.critical, thread=thread, update=update)
    outgoing.clear()


async def _enqueue(session: AsyncSession, ctx: _Ctx, episode: BreachEpisode, message: Message, *, suffix: str,
                   now: datetime, critical: bool, thread: bool = False, update: bool = False) -> int:
    """Enqueue one message of an episode to the partner's alerts (and the client if critical)."""
    sent = 0
    legs = [(ctx.partner.id, "alerts", episode.alert_key)]
    if critical:
        legs.append((None, CLIENT_PURPOSE, f"{episode.alert_key}:client"))
    for partner_id, purpose, base in legs:
        items = await enqueue_to_route(
            session, partner_id=partner_id, purpose=purpose, message=message,
            key=base + suffix, now=now, thread_of=base if thread else None, update_of=base if update else None,
            routes=None if ctx.routes is None else ctx.routes.get((partner_id, purpose), []),
        )
        sent += len(items)
    return sent


def _worse(threshold: Threshold, a: float, b: float) -> float:
    return max(a, b, key=threshold.gap)


async def _judge_window(session: AsyncSession, ctx: _Ctx, w: Window, *, now: datetime, announce: bool,
                        latest: BreachEpisode | None, report: EvaluationReport, followup_every: timedelta,
                        prefetched: dict[datetime, Parts] | None = None) -> tuple[BreachEpisode | None, bool]:
    """Judge one complete window and move the episode; return (latest episode, had data)."""
    parts = prefetched.get(w.start_utc) if prefetched is not None else await _window_parts(session, ctx.target, w)
    value = parts.value if parts else None
    status = judge(value, parts.volume if parts else 0.0, ctx.threshold)
    report.windows += 1
    if status in (Status.NO_DATA, Status.INSUFFICIENT):
        return latest, status is not Status.NO_DATA
    assert parts is not None and value is not None
    open_ep = latest if latest is not None and latest.status == EpisodeStatus.OPEN else None
    # Windows already behind the newest episode's edge were judged before (late data re-run).
    if latest is not None:
        edge = latest.last_violating_start if open_ep else latest.recovered_at
        if edge is not None and (w.start_utc <= edge if open_ep else w.start_utc < edge):
            return latest, True

    if status is Status.BREACH:
        gap = ctx.threshold.gap(value)
        critical = ctx.target.critical_margin is not None and gap > ctx.target.critical_margin
        if open_ep is None:
            episode = BreachEpisode(
                target_id=ctx.target.id, partner_id=ctx.partner.id, opened_at=w.start_utc,
                last_violating_start=w.start_utc, last_violating_end=w.end_utc, worst_value=value,
                last_value=value, critical=critical, created_at=now,
            )
            # No flush here: a backfill opens hundreds of episodes and they go in one batch at
            # commit or at _drain (in the order added, so the newest has the highest id).
            session.add(episode)
            report.opened += 1
            if announce:
                await _announce(session, ctx, episode, w, parts, now=now)
            return episode, True
        open_ep.windows_breached += 1
        open_ep.last_violating_start, open_ep.last_violating_end = w.start_utc, w.end_utc
        open_ep.worst_value = _worse(ctx.threshold, open_ep.worst_value, value)
        open_ep.last_value = value
        if not announce:
            return open_ep, True
        if not open_ep.alert_key:
            # Opened in a window too old to announce and still going: announce it now.
            open_ep.critical = open_ep.critical or critical
            await _announce(session, ctx, open_ep, w, parts, now=now)
            return open_ep, True
        muted = open_ep.muted_until is not None and open_ep.muted_until > now
        due = open_ep.last_followup_at is None or now - open_ep.last_followup_at >= followup_every
        if due and not muted:
            open_ep.followups += 1
            n = open_ep.followups
            view = await _view(session, ctx, open_ep, w, parts)
            _send(ctx, open_ep, view, breach_followup, (f":followup:{n}", True, False))
            _send(ctx, open_ep, view, breach_alert, (f":update:{n}", False, True))
            open_ep.last_followup_at = now
            report.followups += 1
        session.add(open_ep)
        return open_ep, True

    if open_ep is not None:  # ok or warning: back in compliance
        open_ep.status = EpisodeStatus.RECOVERED
        open_ep.recovered_at = w.start_utc
        open_ep.last_value = value
        session.add(open_ep)
        report.recovered += 1
        if open_ep.alert_key:
            view = await _view(session, ctx, open_ep, w, parts)
            recovered_at = w.start_utc
            _send(ctx, open_ep, view, lambda v: breach_recovered(v, recovered_at=recovered_at),
                  (":recovered", True, False), (":resolved", False, True))
        return open_ep, True
    return latest, True


async def _announce(session: AsyncSession, ctx: _Ctx, episode: BreachEpisode, w: Window, parts: Parts,
                    *, now: datetime) -> None:
    # A new episode has no id yet: _drain numbers it after one flush for every new episode.
    episode.alert_key = _UNNUMBERED if episode.id is None else f"breach:{episode.id}"
    episode.last_followup_at = now
    session.add(episode)
    view = await _view(session, ctx, episode, w, parts)
    _send(ctx, episode, view, breach_alert, ("", False, False))


def _running(ctx: _Ctx, now: datetime) -> tuple[Window, float] | None:
    """Return the running day/week window and its elapsed share when it is due a projection."""
    gran = Granularity(ctx.target.window)
    if gran not in (Granularity.DAY, Granularity.WEEK):
        return None
    cur = window_containing(gran, now, ctx.tz)
    elapsed = (now - cur.start_utc) / (cur.end_utc - cur.start_utc)
    if elapsed < PREBREACH_MIN_ELAPSED:
        return None
    return cur, elapsed


def _so_far(cur: Window, now: datetime) -> Window:
    """The part of a running window that has passed (summed from the periods, not daily sums)."""
    return Window(start=cur.start, end=now.astimezone(cur.tz), granularity=cur.granularity)


def _projected_miss(ctx: _Ctx, parts: Parts | None, elapsed: float) -> bool:
    if parts is None or parts.value is None:
        return False
    return judge(parts.value, parts.volume / elapsed, ctx.threshold) is Status.BREACH


async def _prebreach(session: AsyncSession, ctx: _Ctx, *, now: datetime, report: EvaluationReport) -> None:
    """Warn once per running day/week window projected to miss its target."""
    due = _running(ctx, now)
    if due is None:
        return
    cur, elapsed = due
    parts = (await _parts(session, ctx.target, cur.start_utc, now)).get((ctx.target.partner_id, ctx.target.metric))
    if not _projected_miss(ctx, parts, elapsed):
        return
    seen = (await session.execute(select(PreBreachWarning.id).where(
        PreBreachWarning.target_id == ctx.target.id, PreBreachWarning.window_start == cur.start_utc,
    ))).first()
    if seen is not None:
        return
    assert parts is not None
    await _warn(session, ctx, cur, elapsed, parts, now=now, report=report)


async def _warn(session: AsyncSession, ctx: _Ctx, cur: Window, elapsed: float, parts: Parts, *, now: datetime,
                report: EvaluationReport) -> None:
    """Record the warning of a running window and enqueue its message."""
    assert parts.value is not None
    projected = parts.volume / elapsed
    session.add(PreBreachWarning(target_id=ctx.target.id, window_start=cur.start_utc,
                                 projected_value=parts.value, created_at=now))
    view = PreBreachView(
        partner_name=ctx.partner.name, scope=scope_label(ctx.target, ctx.sites), metric=ctx.target.metric,
        comparator=ctx.target.comparator, target=ctx.target.target_value, value_so_far=parts.value,
        num=parts.num, den=parts.den, projected_volume=projected, window_label=cur.label, elapsed_share=elapsed,
    )
    items = await enqueue_to_route(
        session, partner_id=ctx.partner.id, purpose="alerts", message=prebreach_warning(view),
        key=f"prebreach:{ctx.target.id}:{cur.start_utc.strftime('%Y%m%dT%H%M')}", now=now,
        routes=None if ctx.routes is None else ctx.routes.get((ctx.partner.id, "alerts"), []),
    )
    report.warnings += 1
    report.messages += len(items)


async def _bulk_parts(session: AsyncSession, target: Target, windows: list[Window]) -> dict[datetime, Parts]:
    """Sum a run of windows in one statement: the database buckets each period into its window."""
    sums = await sum_windows(session, wanted=[(target.partner_id, w) for w in windows], metrics=[target.metric],
                             site_id=target.site_id, channel=target.channel, by_site=False)
    out = {}
    for w in windows:
        parts = sums.parts(target.partner_id, target.metric, _span(w))
        if parts is not None:
            out[w.start_utc] = parts
    return out


def _first_window(target: Target, *, tz: ZoneInfo, last_complete: Window, mark: EvaluationMark | None,
                  since: datetime | None, full: bool) -> Window:
    gran = Granularity(target.window)
    candidates = []
    if since is not None:
        candidates.append(window_containing(gran, since, tz))
    if mark is not None and not full:
        candidates.append(window_containing(gran, mark.evaluated_until, tz))
    if not candidates:
        return last_complete
    first = min(candidates, key=lambda w: w.start_utc)
    if since is None:
        floor = last_complete.shift(-(MAX_CATCHUP_WINDOWS - 1))
        if first.start_utc < floor.start_utc:
            first = floor
    return first


def _windows(ctx: _Ctx, *, now: datetime, mark: EvaluationMark | None, since: datetime | None,
             full: bool, runs: dict[tuple, list[Window]] | None = None) -> list[Window]:
    """List the complete windows to judge, from the mark (or ``since``) to now, within the target's life.

    ``runs`` shares the run of windows between targets with the same zone, granularity and
    first window (a year of days is 365 calendar steps, the same for most targets).
    """
    target = ctx.target
    last_complete = window_containing(Granularity(target.window), now, ctx.tz).previous()
    first = _first_window(target, tz=ctx.tz, last_complete=last_complete, mark=mark, since=since, full=full)
    # The zone's name is part of the key: aware datetimes compare as instants across zones.
    key = (ctx.partner.timezone, first.start, first.granularity)
    run = runs.get(key) if runs is not None else None
    if run is None:
        run, w = [], first
        while w.end_utc <= now:
            run.append(w)
            w = w.shift(1)
        if runs is not None:
            runs[key] = run
    if target.effective_from is None and target.effective_to is None:
        return run
    return [w for w in run if (target.effective_from is None or w.end_utc > target.effective_from) and (
        target.effective_to is None or w.start_utc < target.effective_to)]


async def _judge_windows(session: AsyncSession, ctx: _Ctx, windows: list[Window], prefetched: dict[datetime, Parts],
                         *, now: datetime, latest: BreachEpisode | None, report: EvaluationReport) -> tuple[BreachEpisode | None, datetime | None]:
    """Judge the windows in order, moving the episode; return the newest episode and the end of the data."""
    announce_from = window_containing(Granularity(ctx.target.window), now, ctx.tz).previous().previous().start_utc
    followup_every = timedelta(hours=ctx.followup_hours)
    data_until: datetime | None = None
    for w in windows:
        latest, had_data = await _judge_window(
            session, ctx, w, now=now, announce=w.start_utc >= announce_from, latest=latest,
            report=report, followup_every=followup_every, prefetched=prefetched,
        )
        if had_data:
            data_until = w.end_utc
    return latest, data_until


def _advance(session: AsyncSession, ctx: _Ctx, mark: EvaluationMark | None, data_until: datetime | None, *,
             now: datetime, full: bool) -> None:
    """Move the target's mark to the end of its newest judged window with data."""
    if data_until is None:
        return
    if mark is None:
        session.add(EvaluationMark(target_id=ctx.target.id, evaluated_until=data_until, updated_at=now))
    elif data_until > mark.evaluated_until or full:
        mark.evaluated_until, mark.updated_at = data_until, now
        session.add(mark)


async def _evaluate_target(core: Core, ctx: _Ctx, *, since: datetime | None, full: bool,
                           report: EvaluationReport) -> None:
    now = core.clock.now()
    target = ctx.target
    ctx = replace(ctx, outgoing=[])
    # One evaluator per target at a time, on every path (scheduler, after ingest, CLI, any
    # replica): the second waits, then reads the first one's mark and finds nothing new.
    async with locked_transaction(core.db, f"evaluate:{target.id}") as session:
        mark = await session.get(EvaluationMark, target.id)
        latest = (await session.execute(
            select(BreachEpisode).where(BreachEpisode.target_id == target.id)
            .order_by(BreachEpisode.id.desc()).limit(1)
        )).scalar_one_or_none()
        windows = _windows(ctx, now=now, mark=mark, since=since, full=full)
        prefetched = await _bulk_parts(session, target, windows) if windows else {}
        latest, data_until = await _judge_windows(session, ctx, windows, prefetched, now=now, latest=latest,
                                                  report=report)
        _advance(session, ctx, mark, data_until, now=now, full=full)
        await _drain(session, ctx.outgoing, now=now, report=report)
        if latest is None or latest.status != EpisodeStatus.OPEN:
            await _prebreach(session, ctx, now=now, report=report)
    report.targets += 1


async def _contexts(session: AsyncSession, core: Core, partner_ids: list[int] | None) -> list[_Ctx]:
    """Read the active targets (of ``partner_ids``) judged by window, with their partners and the site names."""
    stmt = select(Target, Partner).join(Partner, Partner.id == Target.partner_id).where(
        Target.active.is_(True), Partner.active.is_(True))
    if partner_ids is not None:
        stmt = stmt.where(Target.partner_id.in_(partner_ids))
    rows = (await session.execute(stmt.order_by(Target.id))).all()
    if not rows:
        return []
    sites = {sid: name for sid, name in (await session.execute(select(Site.id, Site.name))).all()}
    judged = {g.value for g in (Granularity.HOUR, Granularity.DAY, Granularity.WEEK, Granularity.MONTH)}
    return [_Ctx(target=target, partner=partner, tz=ZoneInfo(partner.timezone), threshold=threshold_of(target),
                 sites=sites, followup_hours=core.settings.followup_hours)
            for target, partner in rows if target.window in judged]


async def _evaluate_all(core: Core, partner_ids: list[int] | None, *, since: datetime | None, full: bool,
                        report: EvaluationReport) -> None:
    """Evaluate every target in one transaction with a fixed number of statements for the common path.

    On PostgreSQL the targets are read in the same transaction, then every target's lock is
    taken in one statement. On SQLite they are read in a session of their own first: the
    process's locks are taken before the transaction, so that its reads start after the
    previous holder's commit.
    """
    if core.db.is_sqlite:
        async with core.db.session() as session:
            ctxs = await _contexts(session, core, partner_ids)
        if ctxs:
            async with locked_transaction_all(core.db, [f"evaluate:{c.target.id}" for c in ctxs]) as session:
                await _judge_all(session, core, ctxs, since=since, full=full, report=report)
        return
    async with core.db.transaction() as session:
        ctxs = await _contexts(session, core, partner_ids)
        if ctxs:
            await lock_all_in(session, [f"evaluate:{c.target.id}" for c in ctxs])
            await _judge_all(session, core, ctxs, since=since, full=full, report=report)


async def _judge_all(session: AsyncSession, core: Core, ctxs: list[_Ctx], *, since: datetime | None, full: bool,
                     report: EvaluationReport) -> None:
    """Judge every target in the caller's locked transaction.

    Reads all marks and newest episodes in one statement, sums every target's windows in one
    ``sum_windows`` call (and the running windows for warnings in one more), judges in Python;
    new episodes go in one batch, episode messages are enqueued after it, in the order they
    arose. Everything commits together (states with their messages).
    """
    now = core.clock.now()
    ids = [c.target.id for c in ctxs]
    newest = (select(func.max(BreachEpisode.id)).where(BreachEpisode.target_id.in_(ids))
              .group_by(BreachEpisode.target_id))
    marks: dict[int, EvaluationMark] = {}
    latest_of: dict[int, BreachEpisode] = {}
    for target_id, mark, episode in (await session.execute(
            select(Target.id, EvaluationMark, BreachEpisode).select_from(Target)
            .outerjoin(EvaluationMark, EvaluationMark.target_id == Target.id)
            .outerjoin(BreachEpisode, and_(BreachEpisode.target_id == Target.id, BreachEpisode.id.in_(newest)))
            .where(Target.id.in_(ids)))).all():
        if mark is not None:
            marks[target_id] = mark
        if episode is not None:
            latest_of[target_id] = episode
    runs: dict[tuple, list[Window]] = {}
    plans = [(ctx, _windows(ctx, now=now, mark=marks.get(ctx.target.id), since=since, full=full, runs=runs))
             for ctx in ctxs]
    metrics = {c.target.metric for c in ctxs}
    # The windows a message may be sent for (the newest two) get their spark series summed too.
    wanted: set[tuple[int, Window]] = set()
    shown_of: list[frozenset[datetime]] = []
    # Calendar steps are the costly part: once per window (and zone, see _windows).
    series: dict[tuple[str, Window], list[Window]] = {}
    for ctx, windows in plans:
        # a superset of the windows judged with announce (the newest two complete ones)
        shown = [w for w in windows[-2:] if w.end_utc > now - (w.end_utc - w.start_utc) * 3]
        wanted.update((ctx.target.partner_id, w) for w in windows)
        for w in shown:
            key = (ctx.partner.timezone, w)
            if key not in series:
                series[key] = w.series(SPARK_WINDOWS)
            wanted.update((ctx.target.partner_id, sw) for sw in series[key])
        shown_of.append(frozenset(w.start_utc for w in shown))
    sums = await sum_windows(session, wanted=wanted, metrics=metrics)
    routes: dict[tuple[int | None, str], list[Route]] = {}
    for route in (await session.execute(select(Route).where(Route.purpose.in_(["alerts", CLIENT_PURPOSE]))
                                        .order_by(Route.id))).scalars():
        routes.setdefault((route.partner_id, route.purpose), []).append(route)
    running = {c.target.id: due for c in ctxs if (due := _running(c, now)) is not None}
    so_far = await sum_windows(session, metrics=metrics, wanted=[
        (c.target.partner_id, _so_far(running[c.target.id][0], now)) for c in ctxs if c.target.id in running])
    warn: list[tuple[_Ctx, Window, float, Parts]] = []
    advances = []
    outgoing: list[_Pending] = []
    for (ctx, windows), series_of in zip(plans, shown_of, strict=True):
        ctx = replace(ctx, routes=routes, series=sums, series_of=series_of, outgoing=outgoing)
        t = ctx.target
        prefetched = {}
        for w in windows:
            parts = sums.parts(t.partner_id, t.metric, _span(w), site_id=t.site_id, channel=t.channel)
            if parts is not None:
                prefetched[w.start_utc] = parts
        latest, data_until = await _judge_windows(session, ctx, windows, prefetched, now=now,
                                                  latest=latest_of.get(t.id), report=report)
        advances.append((ctx, data_until))
        report.targets += 1
        if t.id not in running or (latest is not None and latest.status == EpisodeStatus.OPEN):
            continue
        cur, elapsed = running[t.id]
        parts = so_far.parts(t.partner_id, t.metric, (cur.start_utc, now), site_id=t.site_id,
                             channel=t.channel)
        if _projected_miss(ctx, parts, elapsed):
            assert parts is not None
            warn.append((ctx, cur, elapsed, parts))
    # Marks last: their updates go out together at the next flush.
    for ctx, data_until in advances:
        _advance(session, ctx, marks.get(ctx.target.id), data_until, now=now, full=full)
    await _drain(session, outgoing, now=now, report=report)
    if warn:
        seen = set((await session.execute(select(PreBreachWarning.target_id, PreBreachWarning.window_start).where(
            PreBreachWarning.target_id.in_([c.target.id for c, *_ in warn])))).all())
        for ctx, cur, elapsed, parts in warn:
            if (ctx.target.id, cur.start_utc) not in seen:
                await _warn(session, ctx, cur, elapsed, parts, now=now, report=report)


async def evaluate(core: Core, *, partner_ids: Iterable[int] | None = None, since: datetime | None = None,
                   full: bool = False) -> EvaluationReport:
    """Evaluate active targets (of ``partner_ids``) from their marks, or from ``since`` / all of it."""
    report = EvaluationReport()
    ids = None if partner_ids is None else list(partner_ids)
    together = EvaluationReport()
    try:
        await _evaluate_all(core, ids, since=since, full=full, report=together)
        return together
    except Exception:  # noqa: BLE001 - rolled back as a whole; the per-target path isolates the bad one
        log.warning("evaluating the targets together failed; evaluating them one by one", exc_info=True)
    # Read again: what the failed transaction read was expired by its rollback.
    async with core.db.session() as session:
        ctxs = await _contexts(session, core, ids)
    for ctx in ctxs:
        try:
            await _evaluate_target(core, ctx, since=since, full=full, report=report)
        except IntegrityError:
            # another evaluator opened this target's episode first (uq_breach_open_target): it announces
            log.info("evaluation of target %s lost a race to another evaluator; nothing to do", ctx.target.id)
        except Exception:  # one bad target must not stop the others
            log.exception("evaluation of target %s (partner %s) failed; going on with the others",
                          ctx.target.id, ctx.partner.slug)
            report.failed += 1
    return report


async def episode_view(session: AsyncSession, episode: BreachEpisode) -> tuple[BreachView, Partner]:
    """Rebuild the view of an episode from its newest violating window (for buttons and /sla)."""
    return (await _episode_views(session, [episode]))[0]


async def _episode_views(session: AsyncSession, episodes: list[BreachEpisode]) -> list[tuple[BreachView, Partner]]:
    """Rebuild many episode views with a fixed number of statements, whatever their count."""
    if not episodes:
        return []
    target_ids = sorted({e.target_id for e in episodes})
    partner_ids = sorted({e.partner_id for e in episodes})
    targets = {t.id: t for t in (await session.execute(select(Target).where(Target.id.in_(target_ids)))).scalars()}
    partners = {p.id: p for p in (await session.execute(select(Partner).where(Partner.id.in_(partner_ids)))).scalars()}
    site_rows = (await session.execute(select(Site.id, Site.name, Site.partner_id)
                                       .where(Site.partner_id.in_(partner_ids)))).all()
    plans = []
    for e in episodes:
        target, partner = targets[e.target_id], partners[e.partner_id]
        ctx = _Ctx(target=target, partner=partner, tz=ZoneInfo(partner.timezone), threshold=threshold_of(target),
                   sites={sid: name for sid, name, pid in site_rows if pid == partner.id})
        plans.append((e, ctx, window_containing(Granularity(target.window), e.last_violating_start, ctx.tz)))
    sums = await _series_sums(session, [(ctx.target, w) for _e, ctx, w in plans])
    out = []
    for e, ctx, w in plans:
        t = ctx.target
        parts = sums.parts(t.partner_id, t.metric, _span(w), site_id=t.site_id, channel=t.channel) \
            or Parts(t.metric, 0.0, 0.0, None, 0)
        out.append((await _view(session, ctx, e, w, parts, sums), ctx.partner))
    return out


async def open_episode_views(session: AsyncSession, *, partner_ids: Iterable[int] | None = None,
                             limit: int = 20) -> list[BreachView]:
    """Return views of open episodes, newest first (the "Open breaches" list of /sla and App Home)."""
    stmt = select(BreachEpisode).where(BreachEpisode.status == EpisodeStatus.OPEN)
    if partner_ids is not None:
        stmt = stmt.where(BreachEpisode.partner_id.in_(list(partner_ids)))
    episodes = list((await session.execute(stmt.order_by(BreachEpisode.id.desc()).limit(limit))).scalars().all())
    return [view for view, _partner in await _episode_views(session, episodes)]
