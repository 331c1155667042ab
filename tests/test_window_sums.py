"""The set-based sums (one statement for many windows) against the per-window queries, on generated data.

Two partners whose weeks hold a DST change (Berlin 2026-10-25, New York 2026-11-01), two sites,
voice and email (email carries the backlog stock), hourly intervals from the demo generator. The
reference is :func:`bot.store.measurements.sum_parts`, one query per window, as every answer was
computed before; each new path must give the same parts for every window and scope.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from bot.demo.bulk import _DEFAULTS, insert_rows, seed_partners
from bot.demo.generator import PartnerSpec, SiteSpec, generate
from bot.domain.metrics import CATALOGUE
from bot.domain.windows import Granularity, parse_window, window_containing
from bot.services.evaluation import _bulk_parts
from bot.services.kpi_query import _combine, query_kpis, span
from bot.store.measurements import Parts, sum_parts, sum_windows
from bot.store.models import Partner, Site, Target

SPECS = [
    PartnerSpec("berlin", "Europe/Berlin", (SiteSpec("a", (_DEFAULTS["voice"], _DEFAULTS["email"])),
                                            SiteSpec("b", (_DEFAULTS["voice"],)))),
    PartnerSpec("newyork", "America/New_York", (SiteSpec("a", (_DEFAULTS["voice"], _DEFAULTS["email"])),
                                                SiteSpec("b", (_DEFAULTS["email"],)))),
]
METRICS = ("service_level", "aht", "nps", "backlog", "first_response_time")
NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)


@pytest.fixture
async def world(db):  # noqa: ANN201
    ids = await seed_partners(db, SPECS)
    await insert_rows(db, generate(partners=SPECS, start=date(2026, 10, 12), days=24, seed=3, interval_minutes=60),
                      ids=ids, partners=SPECS)
    async with db.session() as s:
        partners = list((await s.execute(select(Partner).order_by(Partner.slug))).scalars())
        sites = {p.id: [sid for (sid,) in (await s.execute(select(Site.id).where(Site.partner_id == p.id))).all()]
                 for p in partners}
    return partners, sites


def _windows(tz: str) -> list:
    zone = ZoneInfo(tz)
    out = []
    # the hours around each DST night, the days and weeks holding it, the months, rolling 7 days
    for moment in (datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC)):
        out += window_containing(Granularity.HOUR, moment, zone).shift(3).series(8)
    out += window_containing(Granularity.DAY, NOW, zone).series(12)
    out += window_containing(Granularity.WEEK, NOW, zone).series(4)
    out += window_containing(Granularity.MONTH, NOW, zone).series(3)
    out += parse_window("7d", now=NOW, tz=zone).series(3)
    return out


def _same(new: Parts | None, old: Parts | None) -> None:
    if old is None:
        assert new is None
        return
    assert new is not None
    assert (new.metric, new.rows) == (old.metric, old.rows)
    assert new.num == pytest.approx(old.num, rel=1e-12) and new.den == pytest.approx(old.den, rel=1e-12)
    assert (new.aux is None) == (old.aux is None)
    if old.aux is not None:
        assert new.aux == pytest.approx(old.aux, rel=1e-12)


@pytest.mark.parametrize("by_site", [True, False])
async def test_sum_windows_every_scope_equals_one_query_per_window(db, world, by_site):
    partners, sites = world
    wanted = [(p.id, w) for p in partners for w in _windows(p.timezone)]
    async with db.session() as s:
        # hours read the periods, whole days the daily sums: both against the periods
        hourly = await sum_windows(s, wanted=[(p, w) for p, w in wanted if w.granularity is Granularity.HOUR],
                                   metrics=METRICS, by_site=by_site)
        daily = await sum_windows(s, wanted=[(p, w) for p, w in wanted if w.granularity is not Granularity.HOUR],
                                  metrics=METRICS, by_site=by_site)
        checked = 0
        for p in partners:
            scopes = [(None, None), (None, "voice"), (None, "email")]
            if by_site:
                scopes += [(sites[p.id][0], None), (sites[p.id][1], "voice"), (sites[p.id][0], "email")]
            for w in _windows(p.timezone):
                sums = hourly if w.granularity is Granularity.HOUR else daily
                for metric in METRICS:
                    for site_id, channel in scopes:
                        old = await sum_parts(s, partner_ids=[p.id], metrics=[metric], start=w.start_utc,
                                              end=w.end_utc, site_id=site_id, channel=channel)
                        _same(sums.parts(p.id, metric, span(w), site_id=site_id, channel=channel),
                              old.get((p.id, metric)))
                        checked += old.get((p.id, metric)) is not None
                    grouped = await sum_parts(s, partner_ids=[p.id], metrics=[metric], start=w.start_utc,
                                              end=w.end_utc, group_by="channel")
                    new = sums.grouped(p.id, metric, span(w), by="channel")
                    assert set(new) == {k[2] for k in grouped}
                    for key, parts in grouped.items():
                        _same(new[key[2]], parts)
    assert checked > 400  # the windows really hold data


async def test_sum_windows_filtered_scope_equals_one_query_per_window(db, world):
    partners, sites = world
    p = partners[0]
    site_id = sites[p.id][0]
    windows = _windows(p.timezone)
    async with db.session() as s:
        sums = await sum_windows(s, wanted=[(p.id, w) for w in windows], metrics=METRICS, site_id=site_id,
                                 channel="voice", by_site=False)
        for w in windows:  # hours and days in one call: all of them from the periods
            for metric in METRICS:
                old = await sum_parts(s, partner_ids=[p.id], metrics=[metric], start=w.start_utc, end=w.end_utc,
                                      site_id=site_id, channel="voice")
                _same(sums.parts(p.id, metric, span(w)), old.get((p.id, metric)))


async def _old_query_kpis(s, partner, metrics, spec, trend=8):  # noqa: ANN001, ANN202
    """The KPI series as computed before: one grouped query per window."""
    window = parse_window(spec, now=NOW, tz=ZoneInfo(partner.timezone))
    out = {}
    for w in window.series(trend):
        raw = await sum_parts(s, partner_ids=[partner.id], metrics=metrics, start=w.start_utc, end=w.end_utc,
                              group_by="channel")
        for metric in metrics:
            for scope in (None, "voice", "email"):
                found = [p for (_pid, m, ch), p in raw.items() if m == metric and scope in (None, ch)]
                out.setdefault((metric, scope), []).append(_combine(CATALOGUE[metric], found))
    return out


@pytest.mark.parametrize("spec", ["last-week", "7d", "28d", "2026-10", "2026-W44", "yesterday"])
async def test_query_kpis_portfolio_equals_per_window_answers(db, world, spec):
    partners, _sites = world
    async with db.transaction() as s:
        for p in partners:  # scopes: all channels for aht, voice and email for service level
            s.add(Target(partner_id=p.id, key="sl-v", metric="service_level", channel="voice", comparator=">=",
                         target_value=80, window="week"))
            s.add(Target(partner_id=p.id, key="sl-e", metric="service_level", channel="email", comparator=">=",
                         target_value=80, window="day"))
    async with db.session() as s:
        lines = await query_kpis(s, partners=partners, metrics=list(METRICS), window_spec=spec, now=NOW)
        assert {(ln.partner.slug, ln.metric.key, ln.channel) for ln in lines} == {
            (p.slug, m, ch) for p in partners for m in METRICS
            for ch in (("email", "voice") if m == "service_level" else (None,))}
        for p in partners:
            old = await _old_query_kpis(s, p, list(METRICS), spec)
            for line in (ln for ln in lines if ln.partner.id == p.id):
                series = old[(line.metric.key, line.channel)]
                _same(line.parts, series[-1])
                assert line.trend == tuple(pytest.approx(x.value) if x and x.value is not None else None
                                           for x in series)


@pytest.mark.parametrize("scope", [(False, None), (False, "voice"), (True, None), (True, "email")])
async def test_bulk_evaluation_parts_equal_one_query_per_day(db, world, scope):
    partners, sites = world
    with_site, channel = scope
    for p in partners:
        site_id = sites[p.id][0] if with_site else None
        for metric in METRICS:
            target = Target(partner_id=p.id, key="t", metric=metric, comparator=">=", target_value=1, window="day",
                            site_id=site_id, channel=channel)
            days = window_containing(Granularity.DAY, NOW, ZoneInfo(p.timezone)).series(26)
            async with db.session() as s:
                bulk = await _bulk_parts(s, target, days)
                for w in days:
                    old = await sum_parts(s, partner_ids=[p.id], metrics=[metric], start=w.start_utc, end=w.end_utc,
                                          site_id=site_id, channel=channel)
                    _same(bulk.get(w.start_utc), old.get((p.id, metric)))


async def test_query_kpis_statement_count_does_not_grow_with_partners_or_windows(db, world):
    partners, _sites = world
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as s:
            for batch, trend in (([partners[0]], 2), (partners, 8), (partners, 26)):
                statements.clear()
                await query_kpis(s, partners=batch, metrics=list(METRICS), window_spec="last-week", now=NOW,
                                 trend=trend)
                # the targets, the sums, the stock (backlog) read at each window's newest period
                assert len(statements) == 3, (len(batch), trend, statements)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
