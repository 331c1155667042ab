"""QBR dates and reminder timing across timezones (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config.schema import QbrPlan
from bot.domain.qbr import due_reminders, quarter_of, reminders, upcoming


def test_upcoming_quarterly_in_partner_timezone():
    plan = QbrPlan()  # 15th of the quarter's second month, 14:00 local
    now = datetime(2026, 11, 16, 10, tzinfo=UTC)
    assert upcoming(plan, now=now, tz="Asia/Manila") == [
        datetime(2027, 2, 15, 6, tzinfo=UTC), datetime(2027, 5, 15, 6, tzinfo=UTC)]
    assert upcoming(plan, now=now, tz="America/Sao_Paulo", count=1) == [datetime(2027, 2, 15, 17, tzinfo=UTC)]


def test_upcoming_explicit_dates_skip_past_ones():
    plan = QbrPlan(cadence="dates", dates=[datetime(2026, 10, 1, 10), datetime(2027, 1, 20, 14)])
    assert upcoming(plan, now=datetime(2026, 11, 16, tzinfo=UTC), tz="Europe/Warsaw") == [
        datetime(2027, 1, 20, 13, tzinfo=UTC)]


def test_reminders_keep_local_time_across_dst():
    meeting = datetime(2027, 4, 6, 12, tzinfo=UTC)  # 14:00 Warsaw (CEST); T-14 is in CET
    got = reminders(meeting, tz="Europe/Warsaw")
    assert [(r.days_before, r.at) for r in got] == [
        (14, datetime(2027, 3, 23, 13, tzinfo=UTC)), (7, datetime(2027, 3, 30, 12, tzinfo=UTC)),
        (1, datetime(2027, 4, 5, 12, tzinfo=UTC))]


def test_due_reminders_t14_t7_t1_manila_vs_sao_paulo():
    manila = datetime(2027, 2, 15, 6, tzinfo=UTC)  # 14:00 Manila
    assert due_reminders(manila, now=datetime(2027, 2, 1, 5, 59, tzinfo=UTC), tz="Asia/Manila", sent=[]) == []
    assert [r.days_before for r in due_reminders(manila, now=datetime(2027, 2, 1, 6, tzinfo=UTC),
                                                 tz="Asia/Manila", sent=[])] == [14]
    assert due_reminders(manila, now=datetime(2027, 2, 1, 7, tzinfo=UTC), tz="Asia/Manila", sent=[14]) == []
    assert [r.days_before for r in due_reminders(manila, now=datetime(2027, 2, 8, 6, tzinfo=UTC),
                                                 tz="Asia/Manila", sent=[14])] == [7]
    sao_paulo = datetime(2027, 2, 15, 17, tzinfo=UTC)  # 14:00 Sao Paulo
    assert due_reminders(sao_paulo, now=datetime(2027, 2, 14, 6, tzinfo=UTC), tz="America/Sao_Paulo",
                         sent=[14, 7]) == []
    assert [r.days_before for r in due_reminders(sao_paulo, now=datetime(2027, 2, 14, 17, tzinfo=UTC),
                                                 tz="America/Sao_Paulo", sent=[14, 7])] == [1]
    assert due_reminders(sao_paulo, now=datetime(2027, 2, 15, 17, tzinfo=UTC), tz="America/Sao_Paulo", sent=[]) == []


def test_due_reminders_too_late_skipped():
    meeting = datetime(2027, 2, 15, 6, tzinfo=UTC)
    assert [r.days_before for r in due_reminders(meeting, now=datetime(2027, 2, 9, 5, tzinfo=UTC),  # T-14 is 8 days old
                                                 tz="Asia/Manila", sent=[])] == [7]


def test_quarter_of_reviews_previous_quarter():
    assert quarter_of(datetime(2027, 2, 15, 6, tzinfo=UTC), "Asia/Manila") == "2026-Q4"
    assert quarter_of(datetime(2027, 5, 15, 6, tzinfo=UTC), "Asia/Manila") == "2027-Q1"
    # a meeting in a quarter's last month reviews that quarter to date (local calendar)
    assert quarter_of(datetime(2026, 12, 12, 9, tzinfo=UTC), "Europe/Warsaw") == "2026-Q4"
    assert quarter_of(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Europe/Warsaw") == "2026-Q4"  # 1 Dec local
    assert quarter_of(datetime(2026, 11, 30, 22, 30, tzinfo=UTC), "Europe/Warsaw") == "2026-Q3"  # 30 Nov local
