"""Weekly digest content from crafted data: KPIs, scorecard, movers, breaches, chart."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.compose.digest import digest_text
from bot.services.digest import build_digest, build_portfolio_digest, moment_after_week
from bot.store.alerts import BreachEpisode
from bot.store.escalations import Escalation
from bot.store.models import Measurement, Target
from bot.store.qbr import Qbr

GOLDEN = Path(__file__).parent / "golden"
W45 = datetime(2026, 11, 2, 12, tzinfo=UTC)
W46 = datetime(2026, 11, 9, 12, tzinfo=UTC)


async def add(db, partner, metric: str, start: datetime, num: float, den: float):  # noqa: ANN001
    async with db.transaction() as s:
        s.add(Measurement(partner_id=partner.id, scope_site=0, channel="voice", metric=metric, period_start=start,
                          period_end=start + timedelta(minutes=15), num=num, den=den, ingested_at=start))


async def target(db, partner, metric: str, comparator: str, value: float):  # noqa: ANN001
    async with db.transaction() as s:
        s.add(Target(partner_id=partner.id, key=f"{metric}-week", metric=metric, comparator=comparator,
                     target_value=value, warning_value=None, window="week", min_volume=0, channel=None))


async def crafted(db, make_partner, slug: str = "acme", tz: str = "Europe/Warsaw"):  # noqa: ANN001
    partner = await make_partner(slug, name=f"{slug.title()} CX", tz=tz)
    await target(db, partner, "csat", ">=", 85.0)
    await target(db, partner, "aht", "<=", 240.0)
    await add(db, partner, "csat", W45, 80, 100)
    await add(db, partner, "csat", W46, 90, 100)
    await add(db, partner, "aht", W45, 240 * 100, 100)
    await add(db, partner, "aht", W46, 300 * 100, 100)
    return partner


async def test_digest_crafted_week_matches_golden_with_movers_breach_and_chart(db, make_partner):
    acme = await crafted(db, make_partner)
    async with db.transaction() as s:
        target_id = (await s.execute(select(Target.id).where(Target.partner_id == acme.id))).scalars().first()
        s.add(BreachEpisode(target_id=target_id, created_at=W46, partner_id=acme.id, status="recovered", opened_at=W46,
                            last_violating_start=W46, last_violating_end=W46 + timedelta(hours=2),
                            recovered_at=W46 + timedelta(hours=2, minutes=30), windows_breached=10,
                            worst_value=60.0, last_value=70.0))
        s.add(Escalation(partner_id=acme.id, severity="P2", category="quality", title="Wrong refunds",
                         opened_at=W46, level_since=W46, first_acknowledged_at=W46 + timedelta(minutes=45)))
        s.add(Qbr(partner_id=acme.id, scheduled_at=datetime(2027, 1, 20, 13, tzinfo=UTC)))
    async with db.session() as s:
        week, message = await build_digest(s, partner=acme, now=moment_after_week("2026-W46", acme.timezone))
    assert week == "2026-W46"
    text = digest_text(message)
    golden = GOLDEN / "digest_acme_w46.txt"
    if not golden.exists():
        golden.write_text(text)
    assert text == golden.read_text()
    # csat 90 vs 85 -> 88.2 points, aht 240/300=0.8 -> 66.7 points; mean 77.5
    # last week: csat 80/85 -> 78.4, aht at target -> 83.3; mean 80.9, so movement -3.4
    assert "Acme CX: 77.5/100 · -3.4 vs last week" in text
    assert "CSAT (all sites, weekly target) breach recovered after 2h 30m" in text
    assert "- 1 escalation opened, 0 resolved; mean time to acknowledge 0h 45m" in text
    assert "- next QBR Wed 20 Jan 2027 14:00 (Europe/Warsaw)" in text
    from PIL import Image as PilImage
    assert message.image is not None and message.image.png.startswith(b"\x89PNG")
    assert PilImage.open(io.BytesIO(message.image.png)).size == (900, 600)


async def test_digest_text_alone_reads_without_chart(db, make_partner):
    acme = await crafted(db, make_partner)
    async with db.session() as s:
        _, message = await build_digest(s, partner=acme, now=moment_after_week("2026-W46", acme.timezone), chart=False)
    assert message.image is None
    text = digest_text(message)
    assert "Average handle time: 5m 00s (target ≤ 4m 00s, breach, +1m 00s)" in text
    assert "improved" in text and "worsened" in text


async def test_portfolio_digest_ranks_partners(db, make_partner):
    acme = await crafted(db, make_partner)
    globex = await make_partner("globex", name="Globex CX", tz="America/Sao_Paulo")
    await target(db, globex, "csat", ">=", 85.0)
    await add(db, globex, "csat", W46, 102, 100)
    async with db.session() as s:
        week, message = await build_portfolio_digest(s, partners=[acme, globex], now=datetime(2026, 11, 17, 12, tzinfo=UTC))
    text = digest_text(message)
    assert week == "2026-W46"
    assert "Globex CX: 100.0/100 · rank 1 of 2" in text
    assert "Acme CX: 77.5/100 · rank 2 of 2" in text


async def test_kpi_partner_digest_verb_answers_with_digest(db, core, clock, make_partner, make_user):
    acme = await crafted(db, make_partner)
    tl = await make_user("acme-tl", role="partner", partner=acme)
    from bot.commands import dispatch

    clock.set(datetime(2026, 11, 16, 10, tzinfo=UTC))
    reply = await dispatch(core, text="kpi acme digest", actor=tl, platform="console")
    assert reply.title == "Weekly digest · Acme CX · 2026-W46"
    assert reply.image is not None and reply.image.png.startswith(b"\x89PNG")


async def test_digest_headline_counts_a_breach_open_at_week_end_and_names_site_and_local_time(db, make_partner):
    """An open service-level breach is not "all on target"; two breaches differ by site; times are Warsaw's."""
    from bot.store.models import Site

    acme = await make_partner("acme", name="Acme", tz="Europe/Warsaw", sites=("krakow", "gdansk"))
    await add(db, acme, "csat", W46, 90, 100)
    async with db.transaction() as s:
        krakow = (await s.execute(select(Site.id).where(Site.key == "krakow"))).scalar_one()
        for key, site in (("sl-all", None), ("sl-krk", krakow)):
            s.add(Target(partner_id=acme.id, key=key, metric="service_level", comparator=">=", target_value=85.0,
                         window="week", site_id=site, channel="voice"))
        await s.flush()
        ids = (await s.execute(select(Target.id).where(Target.metric == "service_level")
                                .order_by(Target.id))).scalars().all()
        opened = datetime(2026, 11, 8, 23, tzinfo=UTC)  # Mon 9 Nov 00:00 in Warsaw
        for target_id in ids:
            s.add(BreachEpisode(target_id=target_id, partner_id=acme.id, status="open", opened_at=opened,
                                last_violating_start=opened, last_violating_end=opened, created_at=opened,
                                worst_value=70.0, last_value=70.0))
    async with db.session() as s:
        _week, message = await build_digest(s, partner=acme, now=moment_after_week("2026-W46", acme.timezone),
                                            chart=False)
    assert message.summary == "2026-W46 (Europe/Warsaw). 2 SLA breaches still open at week end."
    changes = message.sections[2].bullets
    assert "Service level (all sites, voice, weekly target) breach opened Mon 09 Nov 00:00, still open at week end" \
        in changes
    assert "Service level (Krakow, voice, weekly target) breach opened Mon 09 Nov 00:00, still open at week end" \
        in changes
    assert "UTC" not in digest_text(message)
