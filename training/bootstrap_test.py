"""The uncertainty of a promotion: a paired bootstrap of the gain in recall at capacity.

Both models score the same recent labelled rows (exploration labels included, each IPW-weighted); rows are
resampled with replacement, both recalls recomputed on each resample, and the spread of their difference
gives an interval. Pairing matters: the models share most of their mistakes, so the difference varies far
less than either recall. A challenger is promoted only if the lower end of the one-sided 90% interval
(the 10th percentile of the gain) is above zero: on a handful of contraband labels that is rarely true,
which is the point (promotions decided on 5-9 positives flipped back and forth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training import evaluate

DRAWS = 400
LOWER_QUANTILE = 0.10  # one-sided 90%: the gain must be above zero in 90% of the resamples
MIN_POSITIVES = 10  # fewer contraband labels than this: no test, the champion stays


@dataclass(frozen=True)
class GainInterval:
    """Gain in recall at capacity (challenger minus champion): point estimate and bootstrap bounds."""

    gain: float
    lower: float
    upper: float
    draws: int
    positives: int

    def as_dict(self) -> dict[str, float]:
        return {"gain": self.gain, "gain_lower": self.lower, "gain_upper": self.upper,
                "gain_draws": float(self.draws), "gain_positives": float(self.positives)}


def recall_gain(challenger: np.ndarray, champion: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                share: float, draws: int = DRAWS, seed: int = 0) -> GainInterval:
    """Paired bootstrap of recall(challenger) - recall(champion) at ``share`` capacity."""
    labels = np.asarray(labels, dtype=float)

    def gain(index: np.ndarray) -> float:
        w, y = weights[index], labels[index]
        mine = evaluate.at_capacity(challenger[index], y, share, w).recall
        theirs = evaluate.at_capacity(champion[index], y, share, w).recall
        return mine - theirs

    everything = np.arange(len(labels))
    point = gain(everything)
    rng = np.random.default_rng(seed)
    samples = np.array([gain(rng.integers(0, len(labels), len(labels))) for _ in range(draws)])
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return GainInterval(point, float("nan"), float("nan"), 0, int(labels.sum()))
    return GainInterval(point, float(np.quantile(samples, LOWER_QUANTILE)),
                        float(np.quantile(samples, 1 - LOWER_QUANTILE)), len(samples), int(labels.sum()))
