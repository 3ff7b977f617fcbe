"""Calibration: the trees' margins become probabilities, and a collapsed calibration is refused.

Platt scaling (two parameters) on the validation period when it holds enough contraband to fit a slope;
on fewer, only the intercept is fitted (slope 1: a binary LightGBM's margins are already log-odds on the
data it learnt from), so a handful of positives can shift the level but never flatten the ranking into
a constant. The challengers that were rejected as "calibration off: mean score 0.0000" had slopes fitted
on a few dozen positives pushed to the floor with the intercept far negative.
"""

from __future__ import annotations

import numpy as np

from models.risk_model import sigmoid
from parcelguard.errors import ParcelGuardError

MIN_PLATT_POSITIVES = 30  # below this the slope is not fitted (its standard error exceeds ~25%)
# Registration refuses a model whose mean predicted rate on the calibration period is off the observed
# (IPW) rate by more than this factor. With 20 positives the observed rate's relative standard error is
# about 1/sqrt(20) = 22%, so a factor of 3 is over five standard errors: a broken calibration, not noise.
MAX_RATE_FACTOR = 3.0


class CalibrationOff(ParcelGuardError, ValueError):
    """A model's calibrated mean score is far from the observed contraband rate: not registered."""


def calibrate(margins: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) mapping margins to probabilities on a period the trees did not learn from."""
    if float(np.sum(labels)) >= MIN_PLATT_POSITIVES:
        return fit_platt(margins, labels, weights)
    return 1.0, _intercept(np.clip(margins, -30.0, 30.0), labels, weights)


def match_mean(offsets: np.ndarray, target_scores: np.ndarray, weights: np.ndarray) -> float:
    """The intercept giving ``offsets`` the weighted mean score of ``target_scores``."""
    target = float(np.average(target_scores, weights=weights))
    return _intercept(np.clip(offsets, -30.0, 30.0), np.full(len(offsets), target), weights)


def check_rate(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, period: str) -> dict[str, float]:
    """Mean predicted vs observed rate; raises ``CalibrationOff`` beyond ``MAX_RATE_FACTOR``."""
    if not len(scores) or float(np.sum(weights)) <= 0:
        return {}
    observed = float(np.average(labels, weights=weights))
    predicted = float(np.average(scores, weights=weights))
    if observed > 0 and not (observed / MAX_RATE_FACTOR <= predicted <= observed * MAX_RATE_FACTOR):
        raise CalibrationOff(f"calibration off on the {period} period: mean score {predicted:.4f} against an "
                             f"observed contraband rate of {observed:.4f} (more than {MAX_RATE_FACTOR:g}x apart)")
    return {"calibration_mean_score": predicted, "calibration_observed_rate": observed}


def fit_platt(margins: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted logistic fit p = sigmoid(a*m + b) by damped Newton steps (two parameters, no library needed).

    The slope is kept positive: calibration may rescale the trees' ranking, never reverse it (with a
    handful of validation positives a fit can otherwise come out flat or negative).
    """
    margins = np.clip(margins, -30.0, 30.0)
    a, b = 1.0, 0.0
    X = np.column_stack([margins, np.ones_like(margins)])
    for _ in range(100):
        p = sigmoid(a * margins + b)
        gradient = X.T @ (weights * (p - labels))
        hessian = (X * (weights * p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(2)
        step = np.clip(np.linalg.solve(hessian, gradient), -2.0, 2.0)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-8:
            break
    if not a > 0.05 or not np.isfinite(b):
        a = 0.05 if np.isfinite(a) else 1.0
        b = _intercept(a * margins, labels, weights)
    return float(a), float(b)


def _intercept(offsets: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """The intercept that makes the weighted mean score equal the weighted label rate (bisection)."""
    target = float(np.average(labels, weights=weights))
    low, high = -40.0, 40.0
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if float(np.average(sigmoid(offsets + mid), weights=weights)) < target else (low, mid)
    return (low + high) / 2


