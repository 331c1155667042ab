"""Announcement rules without a database: audience resolution, who acts for a site, business-hour moments."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.access import Actor, Role
from bot.domain.announcements import (
    Audience,
    AudiencePartner,
    acts_for_site,
    next_business_moment,
    parse_ref,
    reminder_moments,
    resolve_audience,
)

ACME = AudiencePartner(1, frozenset({"voice", "chat", "email"}), (11, 12))
GLOBEX = AudiencePartner(2, frozenset({"voice", "email", "social"}), (21,))
INITECH = AudiencePartner(3, frozenset({"chat", "email"}), (31, 32))
BARE = AudiencePartner(4, frozenset({"voice"}), ())  # no sites configured
ALL = (ACME, GLOBEX, INITECH, BARE)
WEEKDAYS = range(5)


def partner_user(partner_id: int, *sites: str) -> Actor:
    return Actor("slack", f"U{partner_id}", Role.PARTNER, 7, "P", partner_id, "p",
                 frozenset(f"site:{s}" for s in sites))


@pytest.mark.parametrize(("audience", "expected"), [
    (Audience("all"), [(1, 11), (1, 12), (2, 21), (3, 31), (3, 32), (4, None)]),
    (Audience("partners", partner_ids=frozenset({2, 3})), [(2, 21), (3, 31), (3, 32)]),
    (Audience("sites", site_ids=frozenset({12, 31})), [(1, 12), (3, 31)]),
    (Audience("all", channels=frozenset({"voice"})), [(1, 11), (1, 12), (2, 21), (4, None)]),
    (Audience("all", channels=frozenset({"social", "chat"})), [(1, 11), (1, 12), (2, 21), (3, 31), (3, 32)]),
    (Audience("partners", partner_ids=frozenset({1, 3}), channels=frozenset({"voice"})), [(1, 11), (1, 12)]),
    (Audience("sites", site_ids=frozenset({21, 31}), channels=frozenset({"social"})), [(2, 21)]),
    (Audience("sites", site_ids=frozenset({99})), []),
])
def test_audience_resolves_to_sites(audience, expected):
    assert resolve_audience(ALL, audience) == expected


def test_unknown_audience_is_refused():
    with pytest.raises(ValueError):
        resolve_audience(ALL, Audience("everyone"))


def test_who_acts_for_a_site():
    lead = partner_user(1)
    lisbon = partner_user(1, "lisbon")
    assert acts_for_site(lead, 1, "krakow") and acts_for_site(lead, 1, "lisbon") and acts_for_site(lead, 1, None)
    assert acts_for_site(lisbon, 1, "lisbon") and not acts_for_site(lisbon, 1, "krakow")
    assert not acts_for_site(lisbon, 1, None)  # a site lead does not speak for the whole partner
    assert not acts_for_site(partner_user(2), 1, "krakow")
    for role in (Role.CLIENT, Role.ADMIN):
        assert not acts_for_site(Actor("slack", "U", role, 1, "C"), 1, "krakow")
    assert not acts_for_site(Actor("slack", "U0STRANGER"), 1, "krakow")


def test_parse_ref():
    assert parse_ref("AN-12") == parse_ref("an-12") == parse_ref("12") == 12
    assert parse_ref("RR-12") is None and parse_ref("AN-x") is None


@pytest.mark.parametrize(("tz", "moment", "hours", "expected_local"), [
    # Warsaw Mon-Fri 08-18: Saturday noon -> Monday 08:00
    ("Europe/Warsaw", "2026-11-21T12:00", (WEEKDAYS, time(8), time(18)), "2026-11-23T08:00"),
    # inside hours: unchanged
    ("Europe/Warsaw", "2026-11-18T14:30", (WEEKDAYS, time(8), time(18)), "2026-11-18T14:30"),
    # at closing (end exclusive): next morning
    ("Europe/Warsaw", "2026-11-18T18:00", (WEEKDAYS, time(8), time(18)), "2026-11-19T08:00"),
    # Manila Mon-Sat 07-22: Saturday night -> Monday 07:00; Saturday morning stays
    ("Asia/Manila", "2026-11-21T22:30", (range(6), time(7), time(22)), "2026-11-23T07:00"),
    ("Asia/Manila", "2026-11-21T06:00", (range(6), time(7), time(22)), "2026-11-21T07:00"),
    # Bogota Mon-Fri 08-17: Friday 17:30 -> Monday 08:00
    ("America/Bogota", "2026-11-20T17:30", (WEEKDAYS, time(8), time(17)), "2026-11-23T08:00"),
    # Warsaw across the end of DST (Sunday 25 Oct 2026): Saturday -> Monday 08:00 CET
    ("Europe/Warsaw", "2026-10-24T20:00", (WEEKDAYS, time(8), time(18)), "2026-10-26T08:00"),
])
def test_next_business_moment_in_partner_zones(tz, moment, hours, expected_local):
    zone = ZoneInfo(tz)
    days, start, end = hours
    got = next_business_moment(datetime.fromisoformat(moment).replace(tzinfo=zone), tz, days=days, start=start,
                               end=end)
    assert got.tzinfo is UTC
    assert got.astimezone(zone).replace(tzinfo=None) == datetime.fromisoformat(expected_local)


def test_reminder_moments_half_way_and_deadline_in_business_hours():
    tz = ZoneInfo("Europe/Warsaw")
    sent = datetime(2026, 11, 16, 10, 0, tzinfo=tz)  # Monday
    deadline = datetime(2026, 11, 20, 17, 0, tzinfo=tz)  # Friday
    half, last = reminder_moments(sent, deadline, tz, days=WEEKDAYS, start=time(8), end=time(18))
    assert half.astimezone(tz) == datetime(2026, 11, 18, 13, 30, tzinfo=tz)
    assert last.astimezone(tz) == deadline
    # a deadline on Saturday night: the deadline reminder waits for Monday 08:00; half-way is Wednesday night
    # -> Thursday 08:00
    half, last = reminder_moments(sent, datetime(2026, 11, 21, 22, 0, tzinfo=tz), tz, days=WEEKDAYS,
                                  start=time(8), end=time(18))
    assert (half.astimezone(tz), last.astimezone(tz)) == (datetime(2026, 11, 19, 8, 0, tzinfo=tz),
                                                          datetime(2026, 11, 23, 8, 0, tzinfo=tz))
    # a deadline the same evening: half-way pushed to the next morning would follow the deadline reminder
    # -> only one reminder
    half, last = reminder_moments(datetime(2026, 11, 16, 17, 0, tzinfo=tz), datetime(2026, 11, 16, 21, 0, tzinfo=tz),
                                  tz, days=WEEKDAYS, start=time(8), end=time(18))
    assert half is None and last.astimezone(tz) == datetime(2026, 11, 17, 8, 0, tzinfo=tz)
