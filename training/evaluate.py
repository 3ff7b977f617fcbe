"""Metrics at the screening capacity, IPW-weighted, and normalised by what a perfect ranking reaches.

With weights w (1/propensity) each labelled row stands for w parcels of the population, so "the top
k% of parcels" is the top of the ranking until k% of the total weight is covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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


def _top_share(order: np.ndarray, weights: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the rows ranked first until ``share`` of the total weight is covered."""
    cumulative = np.cumsum(weights[order])
    cut = int(np.searchsorted(cumulative, share * cumulative[-1], side="right"))
    mask = np.zeros(len(order), dtype=bool)
    mask[order[: max(cut, 1)]] = True
    return mask


def at_capacity(
    scores: np.ndarray,
    labels: np.ndarray,
    share: float,
    weights: np.ndarray | None = None,
    perfect_scores: np.ndarray | None = None,
) -> CapacityMetrics:
    """Recall and precision when the top ``share`` is screened; ``perfect_scores`` (e.g. the true risk)
    defines the perfect ranking, else the labels themselves do."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
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
    """PR-AUC as average precision (step-wise, weighted)."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    y = np.asarray(labels, dtype=float)[order]
    w = weights[order]
    tp = np.cumsum(w * y)
    total = tp[-1] if len(tp) else 0.0
    if total == 0:
        return math.nan
    precision = tp / np.cumsum(w)
    return float(np.sum(precision * w * y) / total)


def wilson_interval(hits: float, n: float, z: float = 1.96) -> tuple[float, float, float]:
    """Rate with a Wilson score interval; works with effective (weighted) counts."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (p, max(0.0, centre - half), min(1.0, centre + half))


def calibration_table(scores: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed rate per score-quantile bin."""
    order = np.argsort(scores)
    rows = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            rows.append({"predicted": float(np.mean(scores[chunk])), "observed": float(np.mean(labels[chunk])),
                         "n": float(len(chunk))})
    return rows
