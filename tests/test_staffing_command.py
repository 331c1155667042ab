"""The staffing verb through the one grammar: per day and per interval, what-ifs that store nothing, access per partner."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from bot.commands import dispatch
from bot.ingest.staffing import parse_csv
from bot.messages import Message
from bot.services.staffing_ingest import ingest_staffing
from bot.store.outbox import OutboxItem
from bot.store.staffing import (
    ForecastChange,
    ForecastInterval,
    ForecastVersion,
    ScheduleInterval,
    StaffingWarning,
)
from tests.fakes.staffing_world import make_staffing_world, rows_for_day, to_csv

NEXT_MON = date(2026, 11, 23)  # the clock is Mon 16 Nov; next-week is 23-29 Nov


async def _send(core, rows):
    records, errors = parse_csv(to_csv(rows))
    report = await ingest_staffing(core, records, source="test", errors=errors)
    assert report.ok, report.errors


async def _ask(core, actor, text: str) -> Message:
    reply = await dispatch(core, text=text, actor=actor, platform="console")
    assert isinstance(reply, Message)
    return reply


def _all_text(m: Message) -> str:
    parts = [m.title, m.summary or "", m.context or ""]
    for s in m.sections:
        parts += [s.heading or "", s.text or "", *s.bullets, *(f"{f.label}: {f.value}" for f in s.facts)]
    return "\n".join(parts)


async def _state(db) -> tuple:
    async with db.session() as s:
        return tuple([(await s.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (ForecastInterval, ForecastVersion, ForecastChange, ScheduleInterval, StaffingWarning,
                                OutboxItem)]
                     + [(await s.execute(select(func.sum(ForecastInterval.contacts)))).scalar_one()])


async def test_staffing_next_week_per_day_required_scheduled_gap_and_expected_sl(core, db):
    world = await make_staffing_world(db)
    await _send(core, rows_for_day(NEXT_MON, agents=35, agents_at={10: 30, 11: 30, 12: 30})
                + rows_for_day(NEXT_MON, site="lisbon", agents=35))
    m = await _ask(core, world.lead, "staffing acme next-week")
    assert m.title == "Staffing · Acme Contact Solutions · 2026-W48 (Mon 23 Nov – Sun 29 Nov)"
    bullets = m.sections[0].bullets
    assert len(bullets) == 2
    krakow = next(b for b in bullets if "Kraków" in b)
    # 40 busy quarter hours x 35 needed = 350 agent-hours; 12 of them 5 short: 335 scheduled
    assert krakow.startswith("Mon 23 Nov · voice · Kraków: 4,000 contacts forecast; 350.0 agent-hours needed "
                             "vs 335.0 scheduled (gap -15.0 h; worst interval 30 scheduled vs 35 needed)")
    assert "12 of 96 intervals short" in krakow
    lisbon = next(b for b in bullets if "Lisbon" in b)
    assert "gap +0.0 h; busiest interval 35 scheduled vs 35 needed); expected SL 81% vs 80% target" in lisbon
    assert m.summary == "12 intervals short of the service-level target"
    assert m.image is not None and m.image.png.startswith(b"\x89PNG")
    assert "Forecast version 1" in _all_text(m)


async def test_staffing_what_ifs_answer_without_storing_anything(core, db):
    world = await make_staffing_world(db)
    await _send(core, rows_for_day(NEXT_MON, agents=35))
    before = await _state(db)
    base = await _ask(core, world.lead, "staffing acme next-week")
    more = await _ask(core, world.lead, "staffing acme next-week volume +15%")
    slower = await _ask(core, world.lead, "staffing acme next-week aht +20s")
    assert await _state(db) == before
    assert base.summary == "The schedule covers the forecast"
    assert more.title.endswith("what-if volume +15%")
    assert "4,600 contacts forecast" in more.sections[0].bullets[0]
    assert more.summary.startswith("40 intervals short") and "nothing was stored" in more.summary
    assert slower.title.endswith("what-if AHT +20s")
    assert "40 intervals short" in slower.summary


async def test_staffing_intervals_on_request_and_a_bad_token_gets_one_clear_line(core, db):
    world = await make_staffing_world(db)
    await _send(core, rows_for_day(NEXT_MON, agents=35, agents_at={10: 30}))
    m = await _ask(core, world.lead, "staffing acme krakow 2026-11-23 voice intervals")
    detail = next(s for s in m.sections if s.heading and s.heading.startswith("Per interval"))
    assert len(detail.bullets) == 40
    assert detail.bullets[8] == ("Mon 23 Nov 10:00 voice Kraków: 100.0 contacts, AHT 180s, 35 needed vs "
                                 "30 scheduled, expected SL 32%")
    assert detail.text is None
    wide = await _ask(core, world.lead, "staffing acme next-week intervals")
    assert wide.sections[1].text is None  # 40 busy intervals fit; a longer list names what it leaves out
    bad = await _ask(core, world.lead, "staffing acme krakw")
    assert "'krakw' is not a site, channel, window or what-if I know" in _all_text(bad)
    assert "krakow" in _all_text(bad)
    worse = await _ask(core, world.lead, "staffing acme volume lots")
    assert "'lots' is not a change I can apply to volume" in _all_text(worse)


async def test_staffing_partner_users_see_only_their_own_forecast_and_schedule(core, db):
    world = await make_staffing_world(db)
    await _send(core, rows_for_day(NEXT_MON, agents=35))
    await _send(core, rows_for_day(NEXT_MON, partner="globex", site="saopaulo", tz="America/Sao_Paulo", agents=10))
    own = await _ask(core, world.acme_tl, "staffing next-week")
    assert "Acme Contact Solutions" in own.title and "Globex" not in _all_text(own)
    refused = await _ask(core, world.acme_tl, "staffing globex next-week")
    assert "São Paulo" not in _all_text(refused) and "contacts forecast" not in _all_text(refused)
    everyone = await _ask(core, world.acme_tl, "staffing all next-week")
    assert "Globex" not in _all_text(everyone)
    other_site = await _ask(core, world.globex_tl, "staffing krakow next-week")
    assert "Kraków" not in _all_text(other_site) and "contacts forecast" not in _all_text(other_site)
    portfolio = await _ask(core, world.lead, "staffing next-week")
    facts = {f.label: f.value for f in portfolio.sections[0].facts}
    assert set(facts) == {"Acme Contact Solutions", "Globex CX"}
    assert facts["Globex CX"].startswith("40 short intervals; worst day Mon 23 Nov voice")
