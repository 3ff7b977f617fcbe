"""Metrics at the screening capacity, IPW-weighted, and normalised by what a perfect ranking reaches.

With weights w (1/propensity) each labelled row stands for w parcels of the population, so "the top
k% of parcels" is the top of the ranking until k% of the total weight is covered. The perfect ranking
is the labels themselves, or the true risk where a simulation knows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score

from scoring.monitoring.monitor import wilson_interval


@dataclass(frozen=True)
class CapacityMetrics:
    recall: float
    precision: float
    caught_per_1000: float
    perfect_recall: float
    perfect_precision: float

    @property
    def recall_ratio(self) -> float:
        return self.recall / self.perfect_recall if self.perfect_recall > 0 else math.nan

    @property
    def precision_ratio(self) -> float:
        return self.precision / self.perfect_precision if self.perfect_precision > 0 else math.nan


@dataclass(frozen=True)
class MissRate:
    """Contraband rate among released parcels, estimated from the random exploration sample."""

    rate: float
    low: float
    high: float
    explored: int
    positives: int


def _top_share(order: np.ndarray, weights: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the rows ranked first until ``share`` of the total weight is covered."""
    cumulative = np.cumsum(weights[order])
    cut = int(np.searchsorted(cumulative, share * cumulative[-1], side="right"))
    mask = np.zeros(len(order), dtype=bool)
    mask[order[: max(cut, 1)]] = True
    return mask


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype=float)


def at_capacity(
    scores: np.ndarray,
    labels: np.ndarray,
    share: float,
    weights: np.ndarray | None = None,
    perfect_scores: np.ndarray | None = None,
) -> CapacityMetrics:
    """Recall and precision when the top ``share`` is screened; ``perfect_scores`` (e.g. the true risk)
    defines the perfect ranking, else the labels themselves do."""
    weights = _weights(weights, len(scores))
    labels = np.asarray(labels, dtype=float)
    positives = float(np.sum(weights * labels))
    if len(scores) == 0 or positives == 0:
        return CapacityMetrics(math.nan, math.nan, math.nan, math.nan, math.nan)

    def evaluate(ranking: np.ndarray) -> tuple[float, float]:
        mask = _top_share(np.argsort(-ranking, kind="stable"), weights, share)
        caught = float(np.sum(weights[mask] * labels[mask]))
        return caught / positives, caught / float(np.sum(weights[mask]))

    recall, precision = evaluate(np.asarray(scores, dtype=float))
    perfect = labels if perfect_scores is None else np.asarray(perfect_scores, dtype=float)
    perfect_recall, perfect_precision = evaluate(perfect)
    return CapacityMetrics(recall, precision, precision * 1000.0, perfect_recall, perfect_precision)


def average_precision(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """PR-AUC as (weighted) average precision; NaN when there is no positive to find."""
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0 or labels.sum() == 0:
        return math.nan
    if labels.min() == 1:
        return 1.0
    return float(average_precision_score(labels, np.asarray(scores, dtype=float), sample_weight=weights))


def capacity_curve(
    scores: np.ndarray, labels: np.ndarray, shares: Sequence[float], weights: np.ndarray | None = None,
    perfect_scores: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Recall and precision of the model and of the perfect ranking at several capacity shares."""
    rows = []
    for share in shares:
        m = at_capacity(scores, labels, share, weights, perfect_scores)
        rows.append({"share": share, "recall": m.recall, "precision": m.precision,
                     "perfect_recall": m.perfect_recall, "perfect_precision": m.perfect_precision})
    return rows


def miss_rate(labels: np.ndarray, propensities: np.ndarray) -> MissRate:
    """Contraband rate among released parcels from the exploration labels.

    Exploration draws uniformly (per hub and hour, with the recorded propensity) from the parcels the
    model did not flag, i.e. from the released population; the ratio estimate weights each by
    1/propensity and the interval uses Kish's effective sample size.
    """
    labels = np.asarray(labels, dtype=float)
    if len(labels) == 0:
        return MissRate(math.nan, math.nan, math.nan, 0, 0)
    w = 1.0 / np.maximum(np.asarray(propensities, dtype=float), 1e-6)
    rate = float(np.sum(w * labels) / np.sum(w))
    n_eff = float(np.sum(w) ** 2 / np.sum(w * w))
    _, low, high = wilson_interval(rate * n_eff, n_eff)
    return MissRate(rate, low, high, len(labels), int(labels.sum()))


def calibration_table(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, bins: int = 10
) -> list[dict[str, float]]:
    """Mean predicted vs observed (weighted) rate per score-quantile bin of equal weight."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=float)
    weights = _weights(weights, len(scores))
    if len(scores) == 0:
        return []
    order = np.argsort(scores, kind="stable")
    edges = np.cumsum(weights[order]) / np.sum(weights)
    groups = np.minimum((edges * bins).astype(int), bins - 1)
    rows = []
    for g in range(bins):
        idx = order[groups == g]
        if len(idx):
            w = weights[idx]
            rows.append({"predicted": float(np.average(scores[idx], weights=w)),
                         "observed": float(np.average(labels[idx], weights=w)),
                         "n": float(len(idx)), "weight": float(np.sum(w))})
    return rows


def calibration_error(table: list[dict[str, float]]) -> float:
    """Expected calibration error: weight-averaged |predicted - observed| over the bins."""
    total = sum(row["weight"] for row in table)
    if total <= 0:
        return math.nan
    return sum(row["weight"] * abs(row["predicted"] - row["observed"]) for row in table) / total


def summary(
    scores: np.ndarray, labels: np.ndarray, share: float, weights: np.ndarray | None = None,
    perfect_scores: np.ndarray | None = None,
) -> dict[str, float]:
    """The held-out metrics the issue asks for, each beside its perfect-ranking normaliser."""
    weights = _weights(weights, len(scores))
    cap = at_capacity(scores, labels, share, weights, perfect_scores)
    ap = average_precision(scores, labels, weights)
    perfect_ap = 1.0 if perfect_scores is None else average_precision(perfect_scores, labels, weights)
    table = calibration_table(scores, labels, weights)
    observed = float(np.average(labels, weights=weights)) if len(labels) else math.nan
    return {
        "recall_at_capacity": cap.recall,
        "precision_at_capacity": cap.precision,
        "caught_per_1000_screened": cap.caught_per_1000,
        "perfect_recall_at_capacity": cap.perfect_recall,
        "perfect_precision_at_capacity": cap.perfect_precision,
        "recall_ratio_to_perfect": cap.recall_ratio,
        "precision_ratio_to_perfect": cap.precision_ratio,
        "pr_auc": ap,
        "pr_auc_ratio_to_perfect": ap / perfect_ap if perfect_ap and not math.isnan(perfect_ap) else math.nan,
        "mean_score": float(np.average(scores, weights=weights)) if len(scores) else math.nan,
        "observed_rate": observed,
        "calibration_error": calibration_error(table),
    }


def as_dict(value: MissRate) -> dict[str, float]:
    return {f"miss_rate_{k}" if k != "rate" else "miss_rate_released": float(v) for k, v in asdict(value).items()}
