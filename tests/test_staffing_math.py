"""Staffing math: Erlang C against published table values, shrinkage, zero forecasts, DST days.

Published values: the Erlang C worked example (Call Centre Helper, "Erlang C formula made simple"):
100 calls in 30 minutes, AHT 180 s -> 10 Erlangs; P(wait) 0.6821 / 0.4494 / 0.2853 / 0.1741 with
11-14 agents; service level 80/20 needs 14 agents (88.84%), 20 with 30% shrinkage. The Erlang C
table for A = 10: 15 agents wait probability 0.1020.
"""

from __future__ import annotations

import math
import random
from datetime import date

import pytest

from bot.domain import erlang
from bot.domain.staffing import (
    Goal,
    WhatIf,
    agents_for_target,
    interval_need,
    mape,
    productive_agents,
)

TABLE_A10 = {11: 0.6821, 12: 0.4494, 13: 0.2853, 14: 0.1741, 15: 0.1020}
SL_A10 = {11: 0.3896, 12: 0.6402, 13: 0.7956, 14: 0.8884}


@pytest.mark.parametrize(("agents", "published"), sorted(TABLE_A10.items()))
def test_probability_of_wait_ten_erlangs_matches_published_table(agents, published):
    assert erlang.probability_of_wait(10.0, agents) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(("agents", "published"), sorted(SL_A10.items()))
def test_service_level_ten_erlangs_matches_worked_example(agents, published):
    sl = erlang.service_level(traffic=10.0, agents=agents, aht_seconds=180, threshold_seconds=20)
    assert sl == pytest.approx(published, abs=5e-5)


def test_interval_need_worked_example_needs_fourteen_then_twenty_with_shrinkage():
    goal = Goal(target=0.80, threshold_seconds=20, shrinkage=0.30)
    need = interval_need(contacts=100, aht_seconds=180, interval_seconds=1800, goal=goal, scheduled=20)
    assert need.traffic == pytest.approx(10.0)
    assert need.productive_needed == 14
    assert need.required == 20  # 14 / 0.7 = 20 exactly: no rounding up past it
    assert need.expected_sl == pytest.approx(0.8884, abs=5e-5)  # 20 scheduled * 0.7 = 14 on the phones
    assert need.gap == 0


@pytest.mark.parametrize(("traffic", "aht", "threshold", "target", "published"), [
    (10.0, 180, 20, 0.80, 14),   # worked example above
    (2.0, 180, 20, 0.80, 4),     # the hand-computed case of test_erlang
    (20.0, 180, 20, 0.80, 24),   # 23 agents give 70.2%, 24 give 80.9% (checked with the SL formula below)
])
def test_agents_for_target_matches_published_and_reference_cases(traffic, aht, threshold, target, published):
    assert agents_for_target(traffic=traffic, aht_seconds=aht, threshold_seconds=threshold, target=target) == published
    assert erlang.required_agents(traffic=traffic, aht_seconds=aht, threshold_seconds=threshold,
                                  target=target) == published
    below = erlang.service_level(traffic=traffic, agents=published - 1, aht_seconds=aht, threshold_seconds=threshold)
    at = erlang.service_level(traffic=traffic, agents=published, aht_seconds=aht, threshold_seconds=threshold)
    assert below < target <= at


def test_agents_for_target_one_pass_equals_the_textbook_search():
    rng = random.Random(17)
    for _ in range(300):
        traffic, aht = rng.uniform(0.05, 150), rng.uniform(30, 900)
        threshold, target = rng.uniform(5, 120), rng.uniform(0.5, 0.95)
        assert agents_for_target(traffic=traffic, aht_seconds=aht, threshold_seconds=threshold, target=target) == \
            erlang.required_agents(traffic=traffic, aht_seconds=aht, threshold_seconds=threshold, target=target), \
            (traffic, aht, threshold, target)


@pytest.mark.parametrize(("shrinkage", "required"), [(0.0, 14), (0.2, 18), (0.3, 20), (0.35, 22), (0.5, 28)])
def test_interval_need_shrinkage_scales_scheduled_agents_up(shrinkage, required):
    goal = Goal(target=0.80, threshold_seconds=20, shrinkage=shrinkage)
    need = interval_need(contacts=100, aht_seconds=180, interval_seconds=1800, goal=goal, scheduled=None)
    assert need.required == required == math.ceil(14 / (1 - shrinkage) - 1e-9)


def test_productive_agents_floor_after_shrinkage_without_float_hair():
    assert productive_agents(20, 0.30) == 14  # 20 * 0.7 is 13.999999999999998 in floating point
    assert productive_agents(19, 0.30) == 13
    assert productive_agents(0, 0.30) == 0


def test_interval_need_zero_forecast_needs_nobody_and_is_never_short():
    goal = Goal(target=0.80, threshold_seconds=20, shrinkage=0.30)
    need = interval_need(contacts=0, aht_seconds=300, interval_seconds=900, goal=goal, scheduled=0)
    assert (need.traffic, need.productive_needed, need.required, need.expected_sl) == (0.0, 0, 0, None)
    assert need.gap == 0


def test_interval_need_understaffed_expected_service_level_is_zero():
    goal = Goal(target=0.80, threshold_seconds=20, shrinkage=0.30)
    need = interval_need(contacts=100, aht_seconds=180, interval_seconds=900, goal=goal, scheduled=20)
    assert need.traffic == pytest.approx(20.0)
    assert need.expected_sl == 0.0  # 14 on the phones for 20 Erlangs: the queue never drains
    assert need.gap == 20 - 35


def test_what_if_volume_and_aht_change_the_load_not_the_input():
    w = WhatIf(volume_pct=15, aht_seconds=20)
    assert w.apply(100.0, 180.0) == (pytest.approx(115.0), 200.0)
    assert WhatIf(aht_pct=-10).apply(100.0, 200.0) == (100.0, pytest.approx(180.0))
    assert w.label() == "volume +15%, AHT +20s"
    assert not WhatIf().active


def test_mape_skips_days_without_actuals():
    assert mape([(100, 90), (200, 220), (0, 50)]) == pytest.approx(10.0)
    assert mape([(0, 10)]) is None


@pytest.mark.parametrize(("day", "intervals"), [(date(2027, 3, 28), 92), (date(2026, 10, 25), 100),
                                                (date(2026, 12, 7), 96)])
def test_rows_for_day_dst_days_have_92_or_100_quarter_hours(day, intervals):
    from tests.fakes.staffing_world import rows_for_day

    assert len(rows_for_day(day)) == intervals


def test_warning_and_day_line_name_the_same_worst_interval_when_gaps_tie():
    """Two short intervals with the same gap (6 agents): the warning and `staffing` both name the busier one."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bot.config.schema import StaffingPolicy
    from bot.domain.staffing import Goal, IntervalNeed
    from bot.services.staffing import Plan, PlanInterval, day_lines, shortfalls
    from bot.store.models import Partner

    goal = Goal(target=0.8, threshold_seconds=20)
    start = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)

    def interval(k: int, scheduled: int, required: int) -> PlanInterval:
        need = IntervalNeed(contacts=100, aht_seconds=300, traffic=30, productive_needed=required, required=required,
                            scheduled=scheduled, expected_sl=0.3)
        at = start + timedelta(minutes=15 * k)
        return PlanInterval(None, "voice", at, at + timedelta(minutes=15), need, goal)

    plan = Plan(partner=Partner(slug="acme", name="Acme", timezone="Europe/Warsaw"), tz=ZoneInfo("Europe/Warsaw"),
                policy=StaffingPolicy(), sites={},
                intervals=[interval(0, 37, 43), interval(1, 39, 45), interval(2, 40, 44)])
    (span,) = shortfalls(plan)
    (line,) = day_lines(plan)
    assert (span.scheduled, span.required) == (line.peak_scheduled, line.peak_required) == (39, 45)
