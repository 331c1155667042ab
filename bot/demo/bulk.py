"""Bulk path for benchmarks: generated rows -> Measurement rows, inserted in large batches.

The row -> metric-parts mapping is the ingest one (bot.ingest.rows), so generated data and
ingested files land identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.demo.generator import ChannelSpec, PartnerSpec, Row, SiteSpec
from bot.ingest.rows import metric_parts
from bot.store.db import Database
from bot.store.measurement_days import refresh_days
from bot.store.measurements import insert_raw
from bot.store.models import Measurement, Partner, Site

_TIMEZONES = ("Europe/Warsaw", "Asia/Manila", "America/Sao_Paulo", "Europe/Lisbon",
              "America/New_York", "Africa/Cairo")
_DEFAULTS = {
    "voice": ChannelSpec("voice", 1500, 320.0, threshold_seconds=20, target=0.80),
    "chat": ChannelSpec("chat", 900, 240.0, threshold_seconds=30, target=0.85),
    "email": ChannelSpec("email", 400, 420.0),
    "social": ChannelSpec("social", 400, 300.0, threshold_seconds=900, target=0.80),
}

def synthetic_partners(n: int, channels: Sequence[str] = ("voice", "chat", "email")) -> list[PartnerSpec]:
    """Return ``n`` bench partners (one site each) handling ``channels``."""
    return [
        PartnerSpec(f"bench{i:02d}", _TIMEZONES[i % len(_TIMEZONES)],
                    (SiteSpec("main", tuple(_DEFAULTS[c] for c in channels)),), name=f"Bench partner {i}")
        for i in range(1, n + 1)
    ]


async def seed_partners(db: Database, specs: Sequence[PartnerSpec]) -> dict[tuple[str, str], tuple[int, int]]:
    """Create missing Partner/Site rows; return (slug, site key) -> (partner id, site id)."""
    ids: dict[tuple[str, str], tuple[int, int]] = {}
    async with db.transaction() as s:
        for spec in specs:
            partner = (await s.exec(select(Partner).where(Partner.slug == spec.slug))).first()
            if partner is None:
                partner = Partner(slug=spec.slug, name=spec.name or spec.slug, timezone=spec.timezone)
                s.add(partner)
                await s.flush()
            for site_spec in spec.sites:
                site = (await s.exec(select(Site).where(
                    Site.partner_id == partner.id, Site.key == site_spec.key))).first()
                if site is None:
                    site = Site(partner_id=partner.id, key=site_spec.key, name=site_spec.key)
                    s.add(site)
                    await s.flush()
                ids[(spec.slug, site_spec.key)] = (partner.id, site.id)  # type: ignore[assignment]
    return ids


async def insert_rows(
    db: Database, rows: Iterable[Row], *, ids: dict[tuple[str, str], tuple[int, int]],
    partners: Sequence[PartnerSpec], batch_size: int = 20_000, metrics: set[str] | None = None, source: str = "demo",
    daily_sums: bool = True,
) -> int:
    """Insert every row's metric parts as Measurements in batches; return the count.

    ``daily_sums=False`` skips refreshing ``measurement_day`` (the benchmarks' raw-insert floor).
    """
    now = datetime.now(UTC)
    zones = {p.slug: ZoneInfo(p.timezone) for p in partners}
    table = Measurement.__table__
    batch: list[dict[str, object]] = []
    total = 0
    for row in rows:
        partner_id, site_id = ids[(str(row["partner"]), str(row["site"]))]
        start = datetime.fromisoformat(str(row["interval_start"])).astimezone(UTC)
        end = start + timedelta(minutes=int(row["interval_minutes"]))  # type: ignore[call-overload]
        if int(row["interval_minutes"]) == 1440:  # type: ignore[call-overload]
            # A local day is 23 or 25 hours across DST; end at the next local midnight.
            local = datetime.fromisoformat(str(row["interval_start"])).replace(tzinfo=None)
            end = (local + timedelta(days=1)).replace(tzinfo=zones[str(row["partner"])]).astimezone(UTC)
        for metric, num, den, aux in metric_parts(row):
            if metrics is not None and metric not in metrics:
                continue
            batch.append({"partner_id": partner_id, "site_id": site_id, "scope_site": site_id,
                          "channel": row["channel"], "metric": metric, "period_start": start,
                          "period_end": end, "num": num, "den": den, "aux": aux,
                          "source": source, "ingested_at": now})
        if len(batch) >= batch_size:
            total += await _flush(db, table, batch, daily_sums)
            batch = []
    if batch:
        total += await _flush(db, table, batch, daily_sums)
    return total


async def _flush(db: Database, table, batch: list[dict[str, object]], daily_sums: bool) -> int:  # noqa: ANN001
    starts: dict[int, set] = {}
    for item in batch:
        starts.setdefault(item["partner_id"], set()).add(item["period_start"])
    async with db.transaction() as s:
        await insert_raw(s, table, batch)
        if daily_sums:
            await refresh_days(s, starts)
    return len(batch)
