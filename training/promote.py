"""Promotion: a challenger becomes champion only if it passes behavioural checks and beats the
champion on the same recent, bias-corrected held-out period: the lower end of a paired bootstrap
interval of its gain in recall at capacity (``training.bootstrap_test``) must be above the configured
margin (0 by default), on at least ``bootstrap_test.MIN_POSITIVES`` contraband labels.

Both models are scored on the challenger's held-out rows, IPW-weighted; where the champion was trained
on part of that period, only the rows after its own training cut count (so it is not judged on labels it
learnt from), unless that leaves too few contraband labels to compare on. Losing challengers keep the
``challenger`` alias, so scorers run them in shadow beside the champion, never acting on their scores.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import mlflow
import numpy as np

from models import registry
from models.risk_model import RiskModel
from training import bootstrap_test, evaluate
from training.dataset import TrainingSet

log = logging.getLogger(__name__)
METRIC = "recall_at_capacity"
MIN_POSITIVES = 5  # fewer contraband labels than this in the champion-unseen rows: compare on all of them


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
    rows: int = 0
    positives: int = 0
    details: dict[str, float] = field(default_factory=dict)


def behaviour_checks(model: RiskModel, data: TrainingSet) -> list[str]:
    """Failures of the checks a model must pass before it acts on live parcels (empty when fine)."""
    failures: list[str] = []
    scores = model.score_rows(data.rows)
    if not np.all(np.isfinite(scores)) or np.any((scores < 0) | (scores > 1)):
        failures.append("scores must be finite probabilities")
    if data.rows:
        unseen = [{**row, **dict.fromkeys(model.schema.categorical, "never-seen-category")}
                  for row in data.rows[:20]]
        if not np.all(np.isfinite(model.score_rows(unseen))):
            failures.append("unseen categories must still score")
    observed = float(np.average(data.y, weights=data.w)) if len(data) else 0.0
    predicted = float(np.average(scores, weights=data.w)) if len(data) else 0.0
    if observed > 0 and not (observed / 3 <= predicted <= observed * 3):
        failures.append(f"calibration off: mean score {predicted:.4f} vs observed rate {observed:.4f}")
    return failures


def comparison_rows(recent: TrainingSet, champion_trained_until: float | None) -> tuple[TrainingSet, str]:
    """The rows both models are judged on, and a note when the champion had seen some of them."""
    if champion_trained_until is None or not len(recent) or recent.times[0] >= champion_trained_until:
        return recent, ""
    unseen = recent.between(since=champion_trained_until)
    if unseen.positives >= MIN_POSITIVES:
        return unseen, ""
    return recent, " (the champion was trained on part of this period)"


def judge(
    challenger: RiskModel,
    champion: RiskModel | None,
    recent: TrainingSet,
    capacity_share: float,
    margin: float,
    champion_trained_until: float | None = None,
) -> Comparison:
    """The promotion decision alone (no registry): the simulator and the training job share it."""
    failures = behaviour_checks(challenger, recent)
    gain_details: dict[str, float] = {}
    rows, note = comparison_rows(recent, champion_trained_until)
    mine = evaluate.summary(challenger.score_rows(rows.rows), rows.y, capacity_share, rows.w)
    theirs = evaluate.summary(champion.score_rows(rows.rows), rows.y, capacity_share, rows.w) if champion else {}
    challenger_value = mine[METRIC]
    champion_value = theirs.get(METRIC)
    if failures:
        promoted, reason = False, "; ".join(failures)
    elif champion is None:
        promoted, reason = True, "no champion yet"
    elif math.isnan(challenger_value) or champion_value is None or math.isnan(champion_value):
        promoted, reason = False, "no contraband in the recent period to compare on"
    else:
        interval = bootstrap_test.recall_gain(challenger.score_rows(rows.rows), champion.score_rows(rows.rows),
                                              rows.y, rows.w, capacity_share)
        gain_details = interval.as_dict()
        enough = rows.positives >= bootstrap_test.MIN_POSITIVES
        promoted = enough and interval.lower > margin
        reason = (f"{METRIC} {challenger_value:.4f} vs champion {champion_value:.4f}: gain {interval.gain:+.4f}, "
                  f"90% lower bound {interval.lower:+.4f} (must exceed {margin}) on {rows.positives} contraband"
                  + ("" if enough else f", fewer than {bootstrap_test.MIN_POSITIVES}: the champion stays") + note)
    details = {f"challenger_{k}": v for k, v in mine.items() if np.isfinite(v)}
    details.update({k: v for k, v in gain_details.items() if np.isfinite(v)})
    details.update({f"champion_{k}": v for k, v in theirs.items() if np.isfinite(v)})
    return Comparison(challenger.version, champion.version if champion else None, METRIC, challenger_value,
                      champion_value, margin, not failures, promoted, reason, len(rows), rows.positives, details)


def compare_and_promote(
    challenger: RiskModel, recent: TrainingSet, capacity_share: float, margin: float
) -> Comparison:
    """Judge both models on the challenger's held-out period; move aliases; log the comparison."""
    name = challenger.name
    champion = registry.load_alias(name, "champion")
    until = registry.trained_until(name, champion.version) if champion else None
    comparison = judge(challenger, champion, recent, capacity_share, margin, until)
    if comparison.promoted:
        registry.set_alias(name, "champion", challenger.version)
        if registry.alias_version(name, "challenger") is not None:
            registry.delete_alias(name, "challenger")  # the old shadow lost to what is now live
    else:
        registry.set_alias(name, "challenger", challenger.version)
    if mlflow.active_run() is not None:
        mlflow.log_dict(asdict(comparison), "promotion.json")
        mlflow.log_metrics({f"promotion_{k}": v for k, v in comparison.details.items()})
        mlflow.set_tag("promoted", str(comparison.promoted).lower())
    log.info("promotion decision", extra={"promoted": comparison.promoted, "reason": comparison.reason})
    return comparison
