"""Reverse report rules: two business days in the partner's timezone, nudge hours, stars, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reports import (
    NUDGE_AFTER,
    add_business_days,
    duration_text,
    in_nudge_hours,
    kind_label,
    parse_ref,
    stars,
)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize("tz", ["Europe/Warsaw", "Asia/Manila", "America/Bogota"])
def test_add_business_days_friday_afternoon_is_tuesday_afternoon(tz):
    friday = local(tz, 2026, 11, 20, 15, 30)
    due = add_business_days(friday, 2, tz).astimezone(ZoneInfo(tz))
    assert (due.weekday(), due.hour, due.minute, due.date().isoformat()) == (1, 15, 30, "2026-11-24")


@pytest.mark.parametrize("tz", ["Europe/Warsaw", "Asia/Manila", "America/Bogota"])
def test_add_business_days_monday_is_wednesday_same_time(tz):
    due = add_business_days(local(tz, 2026, 11, 16, 9, 0), 2, tz).astimezone(ZoneInfo(tz))
    assert due.replace(tzinfo=None) == datetime(2026, 11, 18, 9, 0)


@pytest.mark.parametrize("tz", ["Europe/Warsaw", "Asia/Manila", "America/Bogota"])
def test_add_business_days_weekend_counts_from_monday_start(tz):
    for day in (21, 22):  # Saturday, Sunday
        due = add_business_days(local(tz, 2026, 11, day, 11, 0), 2, tz).astimezone(ZoneInfo(tz))
        assert due.replace(tzinfo=None) == datetime(2026, 11, 25, 0, 0)  # Monday + 2 = Wednesday 00:00


def test_add_business_days_uses_the_partner_day_not_utc():
    # Friday 23:30 UTC is already Saturday 07:30 in Manila: counting starts Monday there
    moment = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    manila = add_business_days(moment, 2, "Asia/Manila").astimezone(ZoneInfo("Asia/Manila"))
    assert manila.replace(tzinfo=None) == datetime(2026, 11, 25, 0, 0)
    # ... and still Friday 18:30 in Bogota: Tuesday 18:30 there
    bogota = add_business_days(moment, 2, "America/Bogota").astimezone(ZoneInfo("America/Bogota"))
    assert bogota.replace(tzinfo=None) == datetime(2026, 11, 24, 18, 30)


def test_add_business_days_keeps_wall_time_across_dst_in_warsaw():
    # Friday 27 March 2026 14:00 CET (+01); clocks go forward on Sunday 29 March
    due = add_business_days(local("Europe/Warsaw", 2026, 3, 27, 14, 0), 2, "Europe/Warsaw")
    assert due == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # Tuesday 14:00 CEST (+02)
    assert due.astimezone(ZoneInfo("Europe/Warsaw")).hour == 14


def test_add_business_days_returns_utc():
    due = add_business_days(local("Asia/Manila", 2026, 11, 17, 10, 0), 2, "Asia/Manila")
    assert due.tzinfo is UTC and due == datetime(2026, 11, 19, 2, 0, tzinfo=UTC)


def test_in_nudge_hours_workday_daytime_only_in_given_zone():
    berlin = "Europe/Berlin"
    assert in_nudge_hours(local(berlin, 2026, 11, 16, 9, 0), berlin)
    assert in_nudge_hours(local(berlin, 2026, 11, 16, 16, 59), berlin)
    assert not in_nudge_hours(local(berlin, 2026, 11, 16, 17, 0), berlin)
    assert not in_nudge_hours(local(berlin, 2026, 11, 16, 8, 59), berlin)
    assert not in_nudge_hours(local(berlin, 2026, 11, 21, 11, 0), berlin)  # Saturday
    # 09:30 UTC Monday is daytime in Berlin but evening in Manila
    assert not in_nudge_hours(datetime(2026, 11, 16, 9, 30, tzinfo=UTC), "Asia/Manila")


def test_stars_show_glyphs_and_number():
    assert stars(4) == "★★★★☆ 4/5"
    assert stars(1) == "★☆☆☆☆ 1/5"
    assert stars(None) == "not rated"


def test_duration_text_units():
    assert duration_text(timedelta(hours=3)) == "3h"
    assert duration_text(timedelta(hours=5, minutes=10)) == "5h 10m"
    assert duration_text(timedelta(minutes=12)) == "12m"
    assert duration_text(timedelta(days=2, hours=4)) == "2d 4h"


def test_kind_label_parse_ref_and_nudge_gap():
    assert kind_label("process_issue") == "Process issue"
    assert kind_label("lead_quality") == "Lead or meeting quality"
    assert parse_ref("RR-12") == 12 and parse_ref("rr-7") == 7 and parse_ref("12") == 12
    assert parse_ref("ESC-1") is None
    assert NUDGE_AFTER == timedelta(days=14)
