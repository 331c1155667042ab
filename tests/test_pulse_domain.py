"""Pulse rules: periods and opening moments across timezones (incl. DST), averages and MIN_GROUP hiding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest

from bot.domain.pulse import (
    HIDDEN,
    HIDDEN_RATINGS,
    MIN_GROUP,
    averages_text,
    opens_at,
    parse_period,
    period_of,
    previous_period,
    rate_text,
    summarize,
)


@dataclass
class Row:
    communication: int | None = None
    clarity: int | None = None
    support: int | None = None
    tooling: int | None = None
    comment: str = ""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("moment", "cadence", "tz", "period"), [
    ("2026-11-30T22:30:00", "monthly", "Europe/Warsaw", "2026-11"),  # 23:30 on 30 Nov in Warsaw
    ("2026-11-30T23:30:00", "monthly", "Europe/Warsaw", "2026-12"),  # 00:30 on 1 Dec in Warsaw
    ("2026-11-30T15:59:00", "monthly", "Asia/Manila", "2026-11"),  # 23:59 in Manila
    ("2026-11-30T16:00:00", "monthly", "Asia/Manila", "2026-12"),  # midnight in Manila
    ("2026-10-01T03:00:00", "monthly", "America/Bogota", "2026-09"),  # 22:00 on 30 Sep in Bogota
    ("2026-10-01T03:00:00", "quarterly", "America/Bogota", "2026-Q3"),
    ("2026-10-01T05:00:00", "quarterly", "America/Bogota", "2026-Q4"),
    ("2027-01-01T00:30:00", "quarterly", "Asia/Manila", "2027-Q1"),
])
def test_period_of_uses_the_partners_local_date(moment, cadence, tz, period):
    assert period_of(utc(moment), cadence, tz) == period


@pytest.mark.parametrize(("period", "tz", "expected"), [
    ("2026-11", "Europe/Warsaw", "2026-11-01T09:00:00"),  # CET (UTC+1)
    ("2026-07", "Europe/Warsaw", "2026-07-01T08:00:00"),  # CEST (UTC+2)
    ("2026-11", "Asia/Manila", "2026-11-01T02:00:00"),  # UTC+8, no DST
    ("2026-11", "America/Bogota", "2026-11-01T15:00:00"),  # UTC-5, no DST
    ("2026-Q4", "America/Bogota", "2026-10-01T15:00:00"),
    ("2027-Q1", "Europe/Warsaw", "2027-01-01T09:00:00"),
])
def test_opening_moment_is_local_day_and_time(period, tz, expected):
    assert opens_at(period, day=1, at=time(10, 0), tz=tz) == utc(expected)


def test_opening_moment_across_the_dst_change():
    # Warsaw leaves summer time on Sun 25 Oct 2026: 10:00 local is 08:00 UTC before, 09:00 UTC after
    assert opens_at("2026-10", day=24, at=time(10, 0), tz="Europe/Warsaw") == utc("2026-10-24T08:00:00")
    assert opens_at("2026-10", day=25, at=time(10, 0), tz="Europe/Warsaw") == utc("2026-10-25T09:00:00")
    # and enters it on Sun 29 Mar 2026: 02:30 does not exist locally; it is taken forward (01:30 UTC = 03:30 CEST)
    assert opens_at("2026-03", day=29, at=time(2, 30), tz="Europe/Warsaw") == utc("2026-03-29T01:30:00")
    assert opens_at("2026-03", day=28, at=time(10, 0), tz="Europe/Warsaw") == utc("2026-03-28T09:00:00")


def test_parse_and_previous_period():
    assert parse_period("2026-11") == "2026-11"
    assert parse_period("2026-q4") == "2026-Q4"
    assert parse_period("2026-13") is None
    assert parse_period("2026-Q5") is None
    assert parse_period("november") is None
    assert previous_period("2026-01") == "2025-12"
    assert previous_period("2026-Q1") == "2025-Q4"
    assert previous_period("2026-11") == "2026-10"


def test_averages_hand_computed():
    rows = [Row(5, 4, None, 2, "good"), Row(4, 4, 3, None), Row(3, 2, 3, 1, "  "), Row(None, 5, 4, None, "x")]
    summary = summarize(rows)
    assert summary.answers == 4
    assert summary.averages["communication"] == pytest.approx(4.0)  # (5+4+3)/3
    assert summary.averages["clarity"] == pytest.approx(3.75)  # (4+4+2+5)/4
    assert summary.averages["support"] == pytest.approx(10 / 3)  # (3+3+4)/3
    assert summary.averages["tooling"] is None  # only 2 ratings: hidden
    assert summary.rated == {"communication": 3, "clarity": 4, "support": 3, "tooling": 2}
    assert summary.comments == 2
    assert summary.overall == pytest.approx((4.0 + 3.75 + 10 / 3) / 3)
    assert averages_text(summary) == ("communication 4.0/5, clarity of goals 3.8/5, "
                                      f"support from the client 3.3/5, tooling and knowledge base {HIDDEN_RATINGS}")


def test_groups_below_min_group_hide_every_average():
    assert MIN_GROUP == 3
    summary = summarize([Row(5, 5, 5, 5), Row(1, 1, 1, 1)])
    assert summary.hidden and summary.overall is None
    assert all(v is None for v in summary.averages.values())
    assert averages_text(summary) == HIDDEN == "hidden until 3 answers"
    assert summarize([]).hidden


def test_rate_text():
    assert rate_text(5, 8) == "5 of 8 answered (62%)"
    assert rate_text(0, 0) == "0 of 0 answered"
