"""The demo's staffing step on the example config and generated data, and staffing in the digest and QBR pack."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from adapters.cli.demo_staffing import show_staffing
from adapters.console.gateway import PreviewGateway
from bot.compose.digest import digest_text
from bot.demo.bulk import insert_rows
from bot.demo.scenario import example_partners, example_rows
from bot.services.digest import build_digest
from bot.services.qbr import build_pack
from bot.store.models import Partner, Site
from bot.store.staffing import ForecastInterval, StaffingWarning
from tests.escalation_world import make_world


async def _load(db, clock) -> None:
    await make_world(db)
    async with db.session() as s:
        rows = (await s.execute(select(Partner.slug, Site.key, Partner.id, Site.id)
                                .join(Site, Site.partner_id == Partner.id))).all()
    ids = {(slug, key): (pid, sid) for slug, key, pid, sid in rows}
    end = clock.now().astimezone(ZoneInfo("UTC")).date() - timedelta(days=1)
    await insert_rows(db, example_rows(end=end, weeks=2), ids=ids, partners=example_partners())


async def test_demo_staffing_shows_the_warning_for_next_weeks_gap_and_a_what_if(db, core, clock):
    await _load(db, clock)
    preview = {p: PreviewGateway(platform=p, write=lambda _text: None) for p in ("slack", "teams")}
    out: list[str] = []
    await show_staffing(core, preview, out.append)
    text = "\n".join(out)
    assert ", 0 changed" in text and "acme forecast version 1" in text
    # the clock is Mon 16 Nov: next week's Tuesday is 24 Nov
    assert "Staffing shortfall ahead · Acme Contact Solutions · Tue 24 Nov" in text
    assert "Tue 24 Nov, voice, Kraków, 10:00-14:00 Warsaw:" in text
    assert "what-if volume +15%" in text and "nothing was stored" in text
    async with db.session() as s:
        warnings = (await s.execute(select(StaffingWarning))).scalars().all()
        forecast = (await s.execute(select(func.count()).select_from(ForecastInterval))).scalar_one()
    assert [(w.partner_id, w.day) for w in warnings] == [(1, "2026-11-24")]  # the one gap, nothing else
    assert forecast > 0
    slack_posts = [dest for dest, _ in preview["slack"].posted if dest.startswith("C0ACMEALERT")]
    assert len(slack_posts) == 1

    # a week later the digest counts the warning and says how good last week's forecast was
    async with db.session() as s:
        acme = (await s.execute(select(Partner).where(Partner.slug == "acme"))).scalar_one()
        _, digest = await build_digest(s, partner=acme, now=clock.now(), chart=False)
        _, later = await build_digest(s, partner=acme, now=clock.now() + timedelta(days=7), chart=False)
        pack = await build_pack(s, partner=acme, quarter="2026-Q4", now=clock.now())
    assert "forecast accuracy, actual vs forecast contacts per day: MAPE" in digest_text(digest)
    assert "(chat " in digest_text(digest) and "voice " in digest_text(digest)
    assert "1 staffing shortfall warning (days 11-24); 0 closed by a new schedule" in digest_text(later)
    assert any(line.startswith("Forecast accuracy (MAPE of daily contacts): quarter MAPE") and "2026-W46" in line
               for line in pack.feedback)
