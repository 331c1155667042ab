"""Window edges in the partner's own timezone, including DST weeks."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.windows import (
    Granularity,
    WindowError,
    looks_like_window,
    parse_window,
    window_containing,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # Wednesday


def test_window_week_containing_dst_change_is_167_hours_from_monday_midnight_local():
    # DST ends in Europe/Berlin on Sunday 2026-10-25: that week is 169 hours long,
    # the spring week (2026-03-29) 167 hours.
    autumn = window_containing(Granularity.WEEK, datetime(2026, 10, 22, 12, tzinfo=UTC), BERLIN)
    assert autumn.start == datetime(2026, 10, 19, tzinfo=BERLIN)
    assert autumn.end_utc - autumn.start_utc == timedelta(hours=169)
    assert autumn.start_utc == datetime(2026, 10, 18, 22, tzinfo=UTC)
    assert autumn.end_utc == datetime(2026, 10, 25, 23, tzinfo=UTC)
    spring = window_containing(Granularity.WEEK, datetime(2026, 3, 26, tzinfo=UTC), BERLIN)
    assert spring.end_utc - spring.start_utc == timedelta(hours=167)


def test_window_shift_across_dst_keeps_local_midnights():
    week = parse_window("2026-W43", now=NOW, tz=BERLIN)
    nxt = week.shift(1)
    assert nxt.start == datetime(2026, 10, 26, tzinfo=BERLIN)
    assert nxt.start_utc == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert week.previous().label == "2026-W42"


def test_parse_window_day_edges_differ_between_sao_paulo_and_manila():
    sp = parse_window("2026-11-16", now=NOW, tz="America/Sao_Paulo")
    mnl = parse_window("2026-11-16", now=NOW, tz="Asia/Manila")
    assert sp.start_utc == datetime(2026, 11, 16, 3, tzinfo=UTC)
    assert mnl.start_utc == datetime(2026, 11, 15, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "start", "end", "label"),
    [
        ("today", "2026-11-18", "2026-11-19", "Wed 2026-11-18"),
        ("yesterday", "2026-11-17", "2026-11-18", "Tue 2026-11-17"),
        ("this-week", "2026-11-16", "2026-11-23", "2026-W47"),
        ("last-week", "2026-11-09", "2026-11-16", "2026-W46"),
        ("7d", "2026-11-11", "2026-11-18", "2026-11-11..2026-11-17"),
        ("28d", "2026-10-21", "2026-11-18", "2026-10-21..2026-11-17"),
        ("this-month", "2026-11-01", "2026-12-01", "Nov 2026"),
        ("last-month", "2026-10-01", "2026-11-01", "Oct 2026"),
        ("quarter", "2026-10-01", "2027-01-01", "2026-Q4"),
        ("2026-Q1", "2026-01-01", "2026-04-01", "2026-Q1"),
        ("2026-W01", "2025-12-29", "2026-01-05", "2026-W01"),
        ("2026-11-01..2026-11-07", "2026-11-01", "2026-11-08", "2026-11-01..2026-11-07"),
        ("2026-02", "2026-02-01", "2026-03-01", "Feb 2026"),
    ],
)
def test_parse_window_each_form_resolves_to_local_calendar_bounds(spec, start, end, label):
    w = parse_window(spec, now=NOW, tz=BERLIN)
    assert w.start == datetime.fromisoformat(start).replace(tzinfo=BERLIN)
    assert w.end == datetime.fromisoformat(end).replace(tzinfo=BERLIN)
    assert w.label == label
    assert looks_like_window(spec)


def test_parse_window_rolling_shift_moves_by_its_length():
    w = parse_window("7d", now=NOW, tz=BERLIN)
    prev = w.previous()
    assert prev.end == w.start
    assert (prev.start.date() - w.start.date()).days == -7
    series = w.series(3)
    assert [s.start.date().isoformat() for s in series] == ["2026-10-28", "2026-11-04", "2026-11-11"]


def test_parse_window_month_shift_crosses_year():
    w = parse_window("2026-12", now=NOW, tz=BERLIN)
    assert w.shift(1).label == "Jan 2027"
    assert w.shift(-12).label == "Dec 2025"


@pytest.mark.parametrize("spec", ["last-wek", "2026-W60", "2026-13", "2026-02-30", "9999d", "soon"])
def test_parse_window_nonsense_raises_window_error_with_help(spec):
    with pytest.raises(WindowError) as info:
        parse_window(spec, now=NOW, tz=BERLIN)
    assert spec in str(info.value)


def test_parse_window_reversed_range_says_so():
    with pytest.raises(WindowError, match="ends"):
        parse_window("2026-11-07..2026-11-01", now=NOW, tz=BERLIN)


def test_window_hour_in_half_hour_offset_zone_follows_utc_hours():
    w = window_containing(Granularity.HOUR, datetime(2026, 11, 18, 12, 40, tzinfo=UTC), "Asia/Kolkata")
    assert w.start_utc == datetime(2026, 11, 18, 12, tzinfo=UTC)
    assert w.end_utc - w.start_utc == timedelta(hours=1)
