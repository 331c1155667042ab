"""Staffing in the weekly digest and the QBR pack: shortfall warnings and forecast accuracy (MAPE)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.staffing import mape
from bot.domain.wording import plural
from bot.services import digest, qbr
from bot.services.staffing_warnings import warnings_in
from bot.store.models import Measurement, Partner
from bot.store.staffing import ForecastInterval, WarningStatus


async def daily_pairs(session: AsyncSession, partner: Partner, start: datetime, end: datetime,
                      ) -> dict[tuple[date, str], tuple[float, float]]:
    """Return (actual offered, forecast contacts) per local day and channel where both exist."""
    tz = ZoneInfo(partner.timezone)
    forecast: dict[tuple[date, str], float] = {}
    rows = (await session.execute(select(ForecastInterval.period_start, ForecastInterval.channel,
                                         func.sum(ForecastInterval.contacts)).where(
        ForecastInterval.partner_id == partner.id, ForecastInterval.period_start >= start,
        ForecastInterval.period_start < end).group_by(ForecastInterval.period_start, ForecastInterval.channel))).all()
    for moment, channel, contacts in rows:
        key = (moment.astimezone(tz).date(), channel)
        forecast[key] = forecast.get(key, 0.0) + float(contacts)
    if not forecast:
        return {}
    actual: dict[tuple[date, str], float] = {}
    rows = (await session.execute(select(Measurement.period_start, Measurement.channel, func.sum(Measurement.den)).where(
        Measurement.partner_id == partner.id, Measurement.metric == "service_level",
        Measurement.period_start >= start, Measurement.period_start < end,
    ).group_by(Measurement.period_start, Measurement.channel))).all()
    for moment, channel, offered in rows:
        key = (moment.astimezone(tz).date(), channel)
        actual[key] = actual.get(key, 0.0) + float(offered)
    return {k: (actual[k], f) for k, f in forecast.items() if k in actual}


def accuracy_text(pairs: dict[tuple[date, str], tuple[float, float]]) -> str | None:
    """Say the MAPE overall and per channel: "MAPE 6.2% (voice 5.1%, chat 8.0%)"."""
    overall = mape(list(pairs.values()))
    if overall is None:
        return None
    channels = sorted({ch for _, ch in pairs})
    per = [f"{ch} {mape([v for (_, c), v in pairs.items() if c == ch]):.1f}%" for ch in channels
           if mape([v for (_, c), v in pairs.items() if c == ch]) is not None]
    days = len({d for d, _ in pairs})
    return f"MAPE {overall:.1f}% over {plural(days, 'day')} ({', '.join(per)})"


async def digest_lines(session: AsyncSession, partners: Sequence[Partner], start: datetime, end: datetime,
                       with_partner: bool) -> list[str]:
    """Shortfall warnings posted in the week, and the week's forecast accuracy, per partner."""
    out = []
    warnings = await warnings_in(session, partner_ids=[p.id for p in partners], start=start, end=end)
    for partner in partners:
        who = f"{partner.name}: " if with_partner else ""
        mine = [w for w in warnings if w.partner_id == partner.id]
        if mine:
            closed = sum(1 for w in mine if w.status == WarningStatus.CLOSED)
            out.append(f"{who}{plural(len(mine), 'staffing shortfall warning')} (days {', '.join(w.day[5:] for w in mine)}); "
                       f"{closed} closed by a new schedule")
        text = accuracy_text(await daily_pairs(session, partner, start, end))
        if text:
            out.append(f"{who}forecast accuracy, actual vs forecast contacts per day: {text}")
    return out


async def pack_lines(session: AsyncSession, partner: Partner, start: datetime, end: datetime) -> list[str]:
    """Forecast accuracy per ISO week of the quarter and for the quarter, and the shortfall warnings."""
    pairs = await daily_pairs(session, partner, start, end)
    out = []
    if pairs:
        weeks: dict[str, dict] = {}
        for (day, ch), value in pairs.items():
            iso = day.isocalendar()
            weeks.setdefault(f"{iso.year}-W{iso.week:02d}", {})[(day, ch)] = value
        per_week = ", ".join(f"{w} {mape(list(v.values())):.1f}%" for w, v in sorted(weeks.items())
                             if mape(list(v.values())) is not None)
        out.append(f"Forecast accuracy (MAPE of daily contacts): quarter {accuracy_text(pairs)}; by week: {per_week}")
    warnings = await warnings_in(session, partner_ids=[partner.id], start=start, end=end)
    if warnings:
        closed = sum(1 for w in warnings if w.status == WarningStatus.CLOSED)
        out.append(f"Staffing shortfall warnings: {len(warnings)}, {closed} closed by a new schedule before the day")
    return out


digest.DIGEST_CHANGES.append(digest_lines)
qbr.add_pack_part("Forecast and staffing", pack_lines)
