"""Balanced scorecard math against hand-computed cases."""

import pytest

from bot.domain.scorecard import attainment, rank, score_partner

TARGETS = {"csat": 85.0, "nps": 50.0, "ces": 3.5, "fcr": 80.0, "aht": 240.0}


def test_attainment_directions_shift_and_cap():
    assert attainment("csat", 90.0, 85.0) == pytest.approx(90 / 85)
    assert attainment("aht", 300.0, 240.0) == pytest.approx(0.8)  # lower is better: target/value
    assert attainment("nps", 40.0, 50.0) == pytest.approx(140 / 150)  # shifted to 0..200
    assert attainment("nps", -100.0, 50.0) == 0.0
    assert attainment("csat", 100.0, 50.0) == 1.2  # capped
    assert attainment("csat", None, 85.0) is None
    assert attainment("aht", 300.0, None) is None


def test_score_partner_default_weights_hand_computed():
    card = score_partner("acme", values={"csat": 90.0, "nps": 40.0, "ces": 3.0, "fcr": 60.0, "aht": 300.0},
                         targets=TARGETS)
    # points: csat 100*(90/85)/1.2=88.235, nps 100*(140/150)/1.2=77.778, ces 100*(3.5/3)/1.2=97.222,
    # fcr 100*0.75/1.2=62.5, aht 100*0.8/1.2=66.667; mean = 78.48
    assert card.score == 78.5
    points = {k.metric: k.points for k in card.kpis}
    assert points["fcr"] == pytest.approx(62.5)
    assert points["ces"] == pytest.approx(97.2222, abs=1e-3)


def test_score_partner_missing_kpis_rescale_weights():
    card = score_partner("acme", values={"csat": 85.0, "fcr": 60.0}, targets=TARGETS)
    # csat at target = 83.333, fcr 62.5; only their 40% of weight counts -> 72.9
    assert card.score == 72.9


def test_score_partner_custom_weights_from_config():
    card = score_partner("acme", values={"csat": 85.0, "aht": 480.0}, targets=TARGETS,
                         weights={"csat": 50.0, "aht": 50.0})
    assert [k.metric for k in card.kpis] == ["csat", "aht"]
    assert card.score == 62.5  # (83.333 + 41.667) / 2


def test_score_partner_no_data_has_no_score():
    assert score_partner("globex", values={}, targets=TARGETS).score is None


def test_rank_orders_ties_and_movement():
    cards = [score_partner(p, values=v, targets=TARGETS) for p, v in (
        ("acme", {"csat": 85.0}), ("globex", {}), ("northwind", {"csat": 102.0}), ("zeta", {"csat": 85.0}))]
    ranked = rank(cards, previous={"acme": 80.0, "northwind": None})
    assert [(c.partner, c.rank) for c in ranked] == [("northwind", 1), ("acme", 2), ("zeta", 2), ("globex", None)]
    assert ranked[1].movement == pytest.approx(83.3 - 80.0)
    assert ranked[0].movement is None
