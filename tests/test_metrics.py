"""The metric catalogue: values from summed parts, aliases, formatting."""

import pytest

from bot.domain.metrics import CATALOGUE, format_delta, format_value, lookup
from bot.domain.sla import Threshold, default_comparator, judge
from bot.messages import Status


def test_metric_value_service_level_is_ratio_of_sums_not_mean_of_percentages():
    sl = CATALOGUE["service_level"]
    # Two intervals: 90 of 100 (90%) and 10 of 50 (20%). Mean of percentages would say 55%.
    assert sl.value(90 + 10, 100 + 50) == pytest.approx(100 * 100 / 150)


def test_metric_value_nps_from_counts():
    nps = CATALOGUE["nps"]
    # 50 promoters, 30 passives, 20 detractors -> 50% - 20% = +30
    assert nps.value(50, 100, 20) == pytest.approx(30.0)


def test_metric_value_no_denominator_is_none_and_last_ignores_denominator():
    assert CATALOGUE["aht"].value(100, 0) is None
    assert CATALOGUE["backlog"].value(42, 0) == 42


@pytest.mark.parametrize(("name", "key"), [("sl", "service_level"), ("AHT", "aht"), ("qa", "qa_score"),
                                           ("first-response-time", "first_response_time"), ("frt", "first_response_time")])
def test_lookup_alias_finds_metric(name, key):
    metric = lookup(name)
    assert metric is not None and metric.key == key


def test_lookup_unknown_is_none():
    assert lookup("ahtt") is None


def test_format_value_units():
    assert format_value(CATALOGUE["service_level"], 81.234) == "81.2%"
    assert format_value(CATALOGUE["aht"], 245.4) == "4m 05s"
    assert format_value(CATALOGUE["asa"], 12) == "12s"
    assert format_value(CATALOGUE["nps"], 31.6) == "+32"
    assert format_value(CATALOGUE["ces"], None) == "n/a"
    assert format_delta(CATALOGUE["service_level"], -1.25) == "-1.2 pp"
    # a value and its change read in the same unit; a change that rounds to nothing has no sign
    assert format_value(CATALOGUE["aht"], 8633) == "2h 23m 53s"
    assert format_delta(CATALOGUE["aht"], 473) == "+7m 53s" and format_delta(CATALOGUE["aht"], -14) == "-14s"
    assert format_delta(CATALOGUE["aht"], -0.4) == "±0s" and format_delta(CATALOGUE["csat"], -0.04) == "±0.0 pp"
    assert format_delta(CATALOGUE["nps"], 3) == "+3" and format_delta(CATALOGUE["ces"], -0.5) == "-0.50"


@pytest.mark.parametrize(
    ("metric", "value", "volume", "status"),
    [
        ("service_level", 80.0, 600, Status.WARNING),  # at target: met, but inside the warning band
        ("service_level", 79.99, 600, Status.BREACH),
        ("service_level", 83.0, 600, Status.WARNING),
        ("service_level", 40.0, 3, Status.INSUFFICIENT),  # never a false breach on 3 calls
        ("aht", 360.0, 600, Status.WARNING),
        ("aht", 360.5, 600, Status.BREACH),
        ("aht", 350.0, 600, Status.WARNING),
        ("aht", None, 0, Status.NO_DATA),
    ],
)
def test_judge_each_comparator_direction(metric, value, volume, status):
    targets = {
        "service_level": Threshold("service_level", ">=", 80.0, warning=85.0, min_volume=50),
        "aht": Threshold("aht", "<=", 360.0, warning=340.0, min_volume=50),
    }
    assert judge(value, volume, targets[metric]) is status


def test_default_comparator_follows_direction():
    assert default_comparator("csat") == ">="
    assert default_comparator("abandon_rate") == "<="


def test_threshold_rejects_unknown_comparator():
    with pytest.raises(ValueError):
        Threshold("aht", "<", 300)


@pytest.mark.parametrize(("comparator", "value"), [(">=", 80.0), ("<=", 80.0)])
def test_judge_exactly_at_target_without_warning_band_is_ok(comparator, value):
    assert judge(value, 100, Threshold("service_level", comparator, 80.0)) is Status.OK
    nudged = value - 0.01 if comparator == ">=" else value + 0.01
    assert judge(nudged, 100, Threshold("service_level", comparator, 80.0)) is Status.BREACH
