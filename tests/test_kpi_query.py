"""The KPI query service against hand-made measurements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.metrics import CATALOGUE
from bot.messages import Status
from bot.services.kpi_query import query_kpis
from bot.store.models import Measurement, Target


async def add_sl(db, partner, *, start: datetime, offered: float, within: float, channel: str = "voice"):  # noqa: ANN001
    async with db.transaction() as s:
        s.add(Measurement(partner_id=partner.id, scope_site=0, channel=channel, metric="service_level",
                          period_start=start, period_end=start + timedelta(minutes=15), num=within, den=offered,
                          ingested_at=start))


async def add_target(db, partner, **kw):  # noqa: ANN001
    values = dict(partner_id=partner.id, key=f"t{kw.get('window', 'week')}{kw.get('channel')}", metric="service_level",
                  comparator=">=", target_value=80.0, warning_value=85.0, window="week", min_volume=100, channel="voice")
    values.update(kw)
    async with db.transaction() as s:
        s.add(Target(**values))


async def query(db, partners, spec: str, now: datetime, **kw):  # noqa: ANN001
    async with db.session() as s:
        return await query_kpis(s, partners=partners, metrics=["service_level"], window_spec=spec, now=now, **kw)


NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)  # Wednesday of 2026-W47


async def test_query_weekly_service_level_weights_intervals_by_volume(db, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin")
    await add_target(db, acme)
    # W46: 90/100 and 10/50 -> 100/150 = 66.7% (breach); W45: 170/200 = 85% -> delta -18.3 pp
    await add_sl(db, acme, start=datetime(2026, 11, 9, 8, tzinfo=UTC), offered=100, within=90)
    await add_sl(db, acme, start=datetime(2026, 11, 12, 8, tzinfo=UTC), offered=50, within=10)
    await add_sl(db, acme, start=datetime(2026, 11, 3, 8, tzinfo=UTC), offered=200, within=170)
    [line] = await query(db, [acme], "last-week", NOW)
    assert line.window.label == "2026-W46"
    assert line.value == pytest.approx(100 * 100 / 150)
    assert line.status is Status.BREACH
    assert line.delta == pytest.approx(100 * 100 / 150 - 85.0)
    assert line.improved is False
    assert line.parts.num == 100 and line.parts.den == 150
    assert line.trend[-2:] == (pytest.approx(85.0), pytest.approx(100 * 100 / 150))
    assert line.trend[0] is None and len(line.trend) == 8


async def test_query_below_minimum_volume_is_insufficient_not_breach(db, make_partner):
    acme = await make_partner("acme")
    await add_target(db, acme, min_volume=100)
    await add_sl(db, acme, start=datetime(2026, 11, 10, 8, tzinfo=UTC), offered=3, within=0)
    [line] = await query(db, [acme], "last-week", NOW)
    assert line.value == 0.0 and line.status is Status.INSUFFICIENT


async def test_query_window_edges_follow_partner_timezone_across_dst(db, make_partner):
    acme = await make_partner("acme", tz="Europe/Berlin")
    # 2026-W43 in Berlin runs Sun 2026-10-18 22:00 UTC .. Sun 2026-10-25 23:00 UTC (169 hours).
    await add_sl(db, acme, start=datetime(2026, 10, 18, 22, tzinfo=UTC), offered=10, within=10)  # first interval
    await add_sl(db, acme, start=datetime(2026, 10, 25, 22, 45, tzinfo=UTC), offered=10, within=0)  # last interval
    await add_sl(db, acme, start=datetime(2026, 10, 25, 23, tzinfo=UTC), offered=10, within=0)  # next week
    [line] = await query(db, [acme], "2026-W43", NOW)
    assert line.parts.den == 20 and line.value == pytest.approx(50.0)
    assert line.status is Status.NO_TARGET


async def test_query_portfolio_resolves_each_partner_in_its_own_timezone(db, make_partner):
    manila = await make_partner("northwind", tz="Asia/Manila")
    sao = await make_partner("globex", tz="America/Sao_Paulo")
    # 2026-11-16 16:30 UTC is Tuesday 00:30 in Manila but Monday 13:30 in Sao Paulo.
    for p in (manila, sao):
        await add_sl(db, p, start=datetime(2026, 11, 16, 16, 30, tzinfo=UTC), offered=10, within=8)
    lines = await query(db, [manila, sao], "2026-11-16", NOW)
    by = {line.partner.slug: line for line in lines}
    assert by["northwind"].value is None  # belongs to Manila's Tuesday
    assert by["globex"].value == pytest.approx(80.0)


async def test_query_one_line_per_target_channel_with_matching_window_target(db, make_partner):
    acme = await make_partner("acme")
    await add_target(db, acme, channel="voice", window="day", target_value=75.0, key="d")
    await add_target(db, acme, channel="voice", window="week", target_value=80.0, key="w")
    await add_target(db, acme, channel="chat", window="week", target_value=90.0, key="c")
    await add_sl(db, acme, start=datetime(2026, 11, 10, 8, tzinfo=UTC), offered=100, within=85, channel="voice")
    await add_sl(db, acme, start=datetime(2026, 11, 10, 8, tzinfo=UTC), offered=100, within=95, channel="chat")
    lines = await query(db, [acme], "last-week", NOW)
    by = {line.channel: line for line in lines}
    assert set(by) == {"chat", "voice"}
    assert by["voice"].target.target_value == 80.0  # the weekly target for a weekly window
    assert by["voice"].value == pytest.approx(85.0) and by["chat"].value == pytest.approx(95.0)
    assert CATALOGUE["service_level"] is by["voice"].metric


@pytest.mark.parametrize("spec", ["last-week", "2026-11-10..2026-11-12"])
async def test_backlog_adds_each_site_and_channel_newest_snapshot(db, make_partner, spec):
    """Kraków's last snapshot is a day older than Gdańsk's: it still counts (195 was shown, 245 is true)."""
    from sqlalchemy import select

    from bot.compose.kpi import kpi_row
    from bot.store.models import Site

    acme = await make_partner("acme", tz="Europe/Berlin", sites=("krakow", "gdansk"))
    async with db.transaction() as s:
        krakow, gdansk = [(await s.execute(select(Site.id).where(Site.key == k))).scalar_one()
                          for k in ("krakow", "gdansk")]
        rows = [(krakow, "email", datetime(2026, 11, 10, 9, tzinfo=UTC), 70.0),
                (krakow, "email", datetime(2026, 11, 11, 9, tzinfo=UTC), 50.0),  # Kraków's newest
                (gdansk, "email", datetime(2026, 11, 11, 9, tzinfo=UTC), 999.0),
                (gdansk, "email", datetime(2026, 11, 12, 9, tzinfo=UTC), 120.0),  # Gdańsk's newest
                (gdansk, "social", datetime(2026, 11, 12, 8, tzinfo=UTC), 75.0)]  # another channel, older hour
        for site, channel, start, num in rows:
            s.add(Measurement(partner_id=acme.id, site_id=site, scope_site=site, channel=channel, metric="backlog",
                              period_start=start, period_end=start + timedelta(minutes=15), num=num, den=1,
                              ingested_at=start))
    async with db.session() as s:
        [line] = await query_kpis(s, partners=[acme], metrics=["backlog"], window_spec=spec, now=NOW)
        [krakow_only] = await query_kpis(s, partners=[acme], metrics=["backlog"], window_spec=spec, now=NOW,
                                         site_id=krakow)
    assert line.value == 50 + 120 + 75
    assert kpi_row(line).note == "245 open tickets over 3 snapshots"
    assert krakow_only.value == 50 and kpi_row(krakow_only).note == "50 open tickets over 1 snapshot"
