"""Announcement rules: categories, audiences, who acknowledges for a site, reminder moments, references."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.access import Actor
from bot.domain.channels import ContactChannel

CATEGORIES: dict[str, str] = {
    "product_launch": "Product launch",
    "procedure_change": "Procedure change",
    "crm_change": "CRM/tooling change",
    "policy_compliance": "Policy or compliance",
    "other": "Other",
}
AUDIENCES: dict[str, str] = {
    "all": "All partners",
    "partners": "Chosen partners",
    "sites": "Chosen sites",
}
CHANNELS: tuple[str, ...] = tuple(c.value for c in ContactChannel)
SITE_CAPABILITY = "site:"  # a partner user with capability "site:krakow" acts for that site only
REF_PREFIX = "AN-"


def category_label(category: str) -> str:
    return CATEGORIES.get(category, category.replace("_", " ").capitalize())


def parse_ref(text: str) -> int | None:
    """Return 12 for "AN-12", "an-12" or "12"; None for anything else."""
    raw = text.strip().upper()
    if raw.startswith(REF_PREFIX):
        raw = raw[len(REF_PREFIX):]
    return int(raw) if raw.isdigit() else None


# ---- audience ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AudiencePartner:
    """What audience resolution needs of a partner: its id, contact channels and site ids."""

    partner_id: int
    channels: frozenset[str]
    site_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Audience:
    kind: str = "all"  # all | partners | sites
    partner_ids: frozenset[int] = frozenset()
    site_ids: frozenset[int] = frozenset()
    channels: frozenset[str] = field(default_factory=frozenset)  # empty: every channel


def resolve_audience(partners: Sequence[AudiencePartner], audience: Audience) -> list[tuple[int, int | None]]:
    """Return the (partner id, site id) pairs an announcement reaches, in the partners' order.

    ``all`` takes every site of every partner, ``partners`` every site of the chosen partners,
    ``sites`` only the chosen sites. Channels narrow any of these to partners handling at least
    one of them. A partner with no sites configured is one recipient with site id None.
    """
    if audience.kind not in AUDIENCES:
        raise ValueError(f"unknown audience {audience.kind!r}")
    out: list[tuple[int, int | None]] = []
    for partner in partners:
        if audience.channels and not (audience.channels & partner.channels):
            continue
        if audience.kind == "partners" and partner.partner_id not in audience.partner_ids:
            continue
        if audience.kind == "sites":
            out.extend((partner.partner_id, s) for s in partner.site_ids if s in audience.site_ids)
            continue
        if partner.site_ids:
            out.extend((partner.partner_id, s) for s in partner.site_ids)
        else:
            out.append((partner.partner_id, None))
    return out


# ---- who acknowledges --------------------------------------------------------------------------

def site_keys(actor: Actor) -> frozenset[str]:
    """Return the site keys a partner user is tied to (empty: the partner's leads, every site)."""
    return frozenset(c[len(SITE_CAPABILITY):] for c in actor.capabilities if c.startswith(SITE_CAPABILITY))


def acts_for_site(actor: Actor, partner_id: int, site_key: str | None) -> bool:
    """Say whether ``actor`` may acknowledge (or mark training) for one site of one partner.

    Only the partner's own users do: users tied to sites (``site:<key>`` capabilities) for those
    sites, the partner's other users (its leads) for every site. Client managers and admins do
    not acknowledge on a site's behalf: the point is that the site itself has read the change.
    """
    if not actor.registered or not actor.is_partner or actor.partner_id != partner_id:
        return False
    keys = site_keys(actor)
    return not keys or (site_key is not None and site_key in keys)


# ---- reminder moments --------------------------------------------------------------------------

def next_business_moment(moment: datetime, tz: str | ZoneInfo, *, days: Iterable[int], start: time,
                         end: time) -> datetime:
    """Return ``moment`` if it is in business hours in ``tz``, else the next opening (UTC out).

    ``days`` are weekday numbers (Monday 0). Openings are local wall times, so DST is honoured.
    """
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    open_days = frozenset(days)
    if not open_days:
        return moment.astimezone(UTC)
    local = moment.astimezone(zone)
    for offset in range(0, 15):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in open_days:
            continue
        opening = datetime.combine(day, start, tzinfo=zone)
        closing = datetime.combine(day, end, tzinfo=zone)
        if offset == 0 and opening <= local < closing:
            return moment.astimezone(UTC)
        if opening >= local:
            return opening.astimezone(UTC)
    return moment.astimezone(UTC)


def reminder_moments(sent_at: datetime, deadline: datetime, tz: str | ZoneInfo, *, days: Iterable[int],
                     start: time, end: time) -> tuple[datetime | None, datetime]:
    """Return (half-way reminder, deadline reminder), each moved into the partner's business hours.

    The half-way reminder is dropped (None) when business hours push it to or past the deadline
    reminder: one reminder is enough then.
    """
    days = tuple(days)
    half = next_business_moment(sent_at + (deadline - sent_at) / 2, tz, days=days, start=start, end=end)
    last = next_business_moment(deadline, tz, days=days, start=start, end=end)
    return (half if half < last else None), last


def duration_text(delta: timedelta) -> str:
    """Return "3h", "5h 10m", "2d 4h", "12m"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
