"""Promotion: a challenger becomes champion only if it passes behavioural checks and beats the
champion on the same recent, bias-corrected held-out period by the configured margin.

Losing challengers keep the ``challenger`` alias, so scorers run them in shadow beside the champion.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import mlflow
import numpy as np

from models import registry
from models.risk_model import RiskModel
from training import evaluate
from training.dataset import TrainingSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    challenger_version: str
    champion_version: str | None
    metric: str
    challenger: float
    champion: float | None
    margin: float
    checks_passed: bool
    promoted: bool
    reason: str


def behaviour_checks(model: RiskModel, data: TrainingSet) -> list[str]:
    """Failures of the checks a model must pass before it acts on live parcels (empty when fine)."""
    failures: list[str] = []
    scores = model.score_rows(data.rows)
    if not np.all(np.isfinite(scores)) or np.any((scores < 0) | (scores > 1)):
        failures.append("scores must be finite probabilities")
    if data.rows:
        unseen = [list(row) for row in data.rows[:20]]
        for row in unseen:
            for j in range(len(row) - len(model.schema.categorical), len(row)):
                row[j] = "never-seen-category"
        if not np.all(np.isfinite(model.score_rows(unseen))):
            failures.append("unseen categories must still score")
    observed = float(np.average(data.y, weights=data.w)) if len(data) else 0.0
    predicted = float(np.average(scores, weights=data.w)) if len(data) else 0.0
    if observed > 0 and not (observed / 3 <= predicted <= observed * 3):
        failures.append(f"calibration off: mean score {predicted:.4f} vs observed rate {observed:.4f}")
    return failures


def compare_and_promote(
    challenger: RiskModel, recent: TrainingSet, capacity_share: float, margin: float
) -> Comparison:
    """Judge both models on the challenger's held-out period; move aliases; log the comparison."""
    name = challenger.name
    champion = registry.load_alias(name, "champion")
    failures = behaviour_checks(challenger, recent)
    metric = "recall_at_capacity"
    challenger_value = evaluate.at_capacity(
        challenger.score_rows(recent.rows), recent.y, capacity_share, recent.w).recall
    champion_value = None
    if champion is not None:
        champion_value = evaluate.at_capacity(
            champion.score_rows(recent.rows), recent.y, capacity_share, recent.w).recall
    if failures:
        promoted, reason = False, "; ".join(failures)
    elif champion is None:
        promoted, reason = True, "no champion yet"
    elif math.isnan(challenger_value):
        promoted, reason = False, "no contraband in the recent period to compare on"
    else:
        promoted = challenger_value >= (champion_value or 0.0) + margin
        reason = (f"{metric} {challenger_value:.4f} vs champion {champion_value:.4f} (margin {margin})")
    comparison = Comparison(challenger.version, champion.version if champion else None, metric,
                            challenger_value, champion_value, margin, not failures, promoted, reason)
    registry.set_alias(name, "champion" if promoted else "challenger", challenger.version)
    if mlflow.active_run() is not None:
        mlflow.log_dict(asdict(comparison), "promotion.json")
        mlflow.set_tag("promoted", str(promoted).lower())
    log.info("promotion decision", extra={"promoted": promoted, "reason": reason})
    return comparison
