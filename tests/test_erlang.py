"""Erlang C against hand-computed cases.

Reference case: 10 calls in 15 minutes, AHT 180 s -> A = 10 * 180 / 900 = 2 Erlangs.
With N = 3: Erlang C = (A^3/3! * 3/(3-2)) / (1 + 2 + 2 + 4) = 4 / 9.
SL(20 s) = 1 - 4/9 * exp(-(3 - 2) * 20 / 180) = 0.60230; ASA = 4/9 * 180 / 1 = 80 s.
"""

from __future__ import annotations

import math

import pytest

from bot.domain import erlang


def test_traffic_intensity_ten_calls_in_quarter_hour_is_two_erlangs():
    assert erlang.traffic_intensity(calls=10, aht_seconds=180, interval_seconds=900) == pytest.approx(2.0)


def test_erlang_b_two_erlangs_three_agents_matches_hand_value():
    # B = (8/6) / (1 + 2 + 2 + 8/6) = 4/19
    assert erlang.erlang_b(2.0, 3) == pytest.approx(4 / 19)


def test_probability_of_wait_reference_case_is_four_ninths():
    assert erlang.probability_of_wait(2.0, 3) == pytest.approx(4 / 9)


def test_service_level_reference_case_matches_hand_value():
    sl = erlang.service_level(traffic=2.0, agents=3, aht_seconds=180, threshold_seconds=20)
    assert sl == pytest.approx(1 - 4 / 9 * math.exp(-20 / 180))
    assert sl == pytest.approx(0.60230, abs=1e-5)


def test_asa_reference_case_is_eighty_seconds():
    assert erlang.average_speed_of_answer(traffic=2.0, agents=3, aht_seconds=180) == pytest.approx(80.0)


def test_probability_of_wait_one_erlang_two_agents_is_one_third():
    # (1/2 * 2/1) / (1 + 1 + 1) = 1/3
    assert erlang.probability_of_wait(1.0, 2) == pytest.approx(1 / 3)


def test_service_level_understaffed_is_zero_and_asa_infinite():
    assert erlang.service_level(traffic=5.0, agents=5, aht_seconds=300, threshold_seconds=20) == 0.0
    assert erlang.average_speed_of_answer(traffic=5.0, agents=4, aht_seconds=300) == math.inf


def test_service_level_no_traffic_is_perfect():
    assert erlang.service_level(traffic=0.0, agents=0, aht_seconds=300, threshold_seconds=20) == 1.0
    assert erlang.required_agents(traffic=0.0, aht_seconds=300, threshold_seconds=20, target=0.8) == 0


def test_required_agents_reference_case_needs_four_for_eighty_percent():
    # N=3 gives 60.2 %; N=4: C = (16/24*2)/(1+2+2+4/3+4/3) = (4/3)/(23/3) = 4/23,
    # SL = 1 - 4/23 * exp(-2*20/180) = 0.8607 >= 0.80.
    n = erlang.required_agents(traffic=2.0, aht_seconds=180, threshold_seconds=20, target=0.8)
    assert n == 4
    sl4 = erlang.service_level(traffic=2.0, agents=4, aht_seconds=180, threshold_seconds=20)
    assert sl4 == pytest.approx(1 - 4 / 23 * math.exp(-40 / 180))


def test_required_agents_textbook_load_more_agents_raise_service_level():
    # 360 calls per 30 min at 240 s = 48 Erlangs; each added agent raises SL monotonically.
    a = erlang.traffic_intensity(calls=360, aht_seconds=240, interval_seconds=1800)
    n = erlang.required_agents(traffic=a, aht_seconds=240, threshold_seconds=20, target=0.8)
    below = erlang.service_level(traffic=a, agents=n - 1, aht_seconds=240, threshold_seconds=20)
    at = erlang.service_level(traffic=a, agents=n, aht_seconds=240, threshold_seconds=20)
    assert a == pytest.approx(48.0)
    assert below < 0.8 <= at
    assert n > 48


def test_required_agents_bad_target_raises():
    with pytest.raises(ValueError):
        erlang.required_agents(traffic=2.0, aht_seconds=180, threshold_seconds=20, target=1.2)
