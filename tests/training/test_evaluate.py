"""Capacity metrics, their perfect-ranking normalisers, the exploration-based miss rate and calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training import evaluate


def test_recall_and_precision_at_capacity_against_a_perfect_ranking() -> None:
    labels = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.0, 0.0, 0.0, 0.0, 0.05])
    m = evaluate.at_capacity(scores, labels, share=0.2)
    assert (m.recall, m.precision) == (pytest.approx(1 / 3), pytest.approx(0.5))
    assert (m.perfect_recall, m.perfect_precision) == (pytest.approx(2 / 3), pytest.approx(1.0))
    assert m.recall_ratio == pytest.approx(0.5) and m.caught_per_1000 == pytest.approx(500)


def test_ipw_weights_make_a_sampled_row_stand_for_its_population() -> None:
    # Two model picks (weight 1) and one exploration label standing for 8 parcels: the top 20% of the 10
    # parcels represented is the two model picks; they catch 1 of the 9 contraband parcels represented.
    labels = np.array([1, 0, 1])
    scores = np.array([0.9, 0.8, 0.1])
    weights = np.array([1.0, 1.0, 8.0])
    m = evaluate.at_capacity(scores, labels, share=0.2, weights=weights)
    assert m.recall == pytest.approx(1 / 9)
    assert m.precision == pytest.approx(0.5)


def test_perfect_ranking_by_true_risk_differs_from_ranking_by_labels() -> None:
    labels = np.array([0, 1, 0, 0])
    risk = np.array([0.9, 0.1, 0.0, 0.0])  # the perfect ranking by risk screens the likelier parcel
    m = evaluate.at_capacity(np.array([0.0, 1.0, 0.0, 0.0]), labels, share=0.25, perfect_scores=risk)
    assert m.recall == 1.0 and m.perfect_recall == 0.0 and math.isnan(m.recall_ratio)


def test_no_positive_gives_nan_not_a_crash() -> None:
    m = evaluate.at_capacity(np.array([0.1, 0.2]), np.array([0, 0]), 0.5)
    assert math.isnan(m.recall)
    assert math.isnan(evaluate.average_precision(np.array([0.1]), np.array([0])))


def test_miss_rate_interval_covers_the_true_rate() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        labels = rng.random(400) < 0.02
        miss = evaluate.miss_rate(labels.astype(float), np.full(400, 0.005))
        covered += miss.low <= 0.02 <= miss.high
    assert covered >= 180  # a 95% interval, allowing for simulation noise
    assert evaluate.miss_rate(np.array([]), np.array([])).explored == 0


def test_miss_rate_weights_by_inverse_propensity() -> None:
    # One positive drawn with probability 0.5 (stands for 2) beside three negatives drawn with 0.1 (30).
    miss = evaluate.miss_rate(np.array([1.0, 0, 0, 0]), np.array([0.5, 0.1, 0.1, 0.1]))
    assert miss.rate == pytest.approx(2 / 32)
    assert miss.low < miss.rate < miss.high


def test_calibration_table_and_error() -> None:
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 0.2, 20000)
    calibrated = rng.random(20000) < scores
    table = evaluate.calibration_table(scores, calibrated.astype(float), bins=10)
    assert len(table) == 10 and evaluate.calibration_error(table) < 0.01
    overconfident = evaluate.calibration_table(scores * 3, calibrated.astype(float), bins=10)
    assert evaluate.calibration_error(overconfident) > 0.1


def test_summary_has_every_metric_with_its_normaliser() -> None:
    labels = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    scores = np.linspace(1, 0, 10)
    found = evaluate.summary(scores, labels, 0.2)
    for key in ("recall_at_capacity", "precision_at_capacity", "caught_per_1000_screened", "pr_auc",
                "recall_ratio_to_perfect", "precision_ratio_to_perfect", "pr_auc_ratio_to_perfect",
                "calibration_error", "observed_rate"):
        assert key in found
    assert found["recall_ratio_to_perfect"] == pytest.approx(0.5)
