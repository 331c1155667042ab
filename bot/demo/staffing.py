"""Demo forecasts and schedules: the client's forecast (last two weeks, for accuracy, and the next two) and each
site's schedule for the next two weeks, staffed to the forecast, with one visible gap: Acme Kraków voice is
short on next week's Tuesday from 10:00 to 14:00 (a training session booked over the peak).

Rows are the staffing ingest format, so the demo loads them through the same validation as a partner's export.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config.schema import DEFAULT_ANSWER_WITHIN
from bot.domain.staffing import Goal, interval_need
from bot.store.models import Measurement, Partner, Site, Target

GAP_PARTNER, GAP_SITE, GAP_CHANNEL = "acme", "krakow", "voice"
GAP_HOURS = (10, 14)
GAP_SHARE = 0.88  # of the agents needed
PAST_DAYS = 14
AHEAD_DAYS = 14


def gap_day(today: date) -> date:
    """Return next week's Tuesday (the day the demo's schedule is short)."""
    return today - timedelta(days=today.weekday()) + timedelta(days=8)


async def staffing_rows(session: AsyncSession, *, now: datetime, seed: int = 7) -> list[dict]:
    """Build forecast rows from the measured load (with forecast error) and schedules that cover them."""
    rng = random.Random(seed)
    out: list[dict] = []
    targets = (await session.execute(select(Target).where(Target.metric == "service_level",
                                                          Target.active.is_(True)))).scalars().all()
    goals = {}
    for t in targets:
        if t.channel is not None and t.site_id is None:
            goals[(t.partner_id, t.channel)] = t.target_value / 100
    partners = (await session.execute(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id))).scalars().all()
    for partner in partners:
        tz = ZoneInfo(partner.timezone)
        today = now.astimezone(tz).date()
        sites = dict((await session.execute(select(Site.id, Site.key).where(Site.partner_id == partner.id))).all())
        first = datetime.combine(today - timedelta(days=PAST_DAYS), datetime.min.time(), tz)
        rows = (await session.execute(select(Measurement.site_id, Measurement.channel, Measurement.metric,
                                             Measurement.period_start, Measurement.num, Measurement.den).where(
            Measurement.partner_id == partner.id, Measurement.metric.in_(("service_level", "aht")),
            Measurement.period_start >= first, Measurement.period_end <= first + timedelta(days=PAST_DAYS),
            Measurement.site_id.is_not(None)))).all()
        offered: dict[tuple, float] = {}
        seen: set[tuple] = set()
        day_errors: dict[tuple, float] = {}
        handle: dict[tuple, tuple[float, float]] = {}
        for site_id, channel, metric, start, num, den in rows:
            if (partner.id, channel) not in goals:
                continue
            key = (site_id, channel, start)
            if metric == "service_level":
                offered[key] = den
            else:
                handle[key] = (num, den)
        for (site_id, channel, start), actual in sorted(offered.items(), key=lambda kv: kv[0][2]):
            num, den = handle.get((site_id, channel, start), (0.0, 0.0))
            aht = round(num / den) if den else 300
            goal = Goal(target=goals[(partner.id, channel)], threshold_seconds=DEFAULT_ANSWER_WITHIN[channel])
            local = start.astimezone(tz)
            base = {"partner": partner.slug, "site": sites[site_id], "channel": channel, "interval_minutes": 15}
            # the forecast as it was sent then: right on average, a few percent off each day
            day_error = day_errors.setdefault((site_id, channel, local.date()), rng.uniform(0.92, 1.08))
            past = round(actual * day_error * rng.uniform(0.95, 1.05), 1)
            out.append(base | {"interval_start": local.isoformat(), "forecast_contacts": past,
                               "forecast_aht_seconds": aht})
            for weeks in (2,):  # the same weekday and local time two weeks on: the next 14 days
                ahead = (local.replace(tzinfo=None) + timedelta(weeks=weeks)).replace(tzinfo=tz)
                key = (site_id, channel, ahead.replace(tzinfo=None))
                if ahead.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None) != ahead.replace(tzinfo=None) \
                        or key in seen:
                    continue  # a local time a DST change skips or repeats
                seen.add(key)
                if not today <= ahead.date() < today + timedelta(days=AHEAD_DAYS):
                    continue
                contacts = round(actual * 1.03, 1)  # volume grows a little
                need = interval_need(contacts=contacts, aht_seconds=aht, interval_seconds=900, goal=goal,
                                     scheduled=None)
                agents = need.required + (1 if need.required else 0)
                if (partner.slug, sites[site_id], channel) == (GAP_PARTNER, GAP_SITE, GAP_CHANNEL) and \
                        ahead.date() == gap_day(today) and GAP_HOURS[0] <= ahead.hour < GAP_HOURS[1]:
                    agents = int(need.required * GAP_SHARE)
                out.append(base | {"interval_start": ahead.isoformat(), "forecast_contacts": contacts,
                                   "forecast_aht_seconds": aht, "scheduled_agents": agents})
    return out
