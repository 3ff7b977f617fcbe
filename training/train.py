"""Training: a time-ordered split, LightGBM with IPW weights, Platt calibration, MLflow run + registry.

The model is deliberately small (few shallow trees): TreeSHAP explanations cost grows with
trees x leaves x depth², and every screened parcel is explained.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np

from models import registry
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES, NUMERIC_FEATURES
from models.risk_model import Encoder, FeatureSchema, RiskModel, build_vocabularies, sigmoid
from training import drift, evaluate
from training.dataset import TrainingSet

log = logging.getLogger(__name__)

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 5,
    "min_data_in_leaf": 40,
    "min_sum_hessian_in_leaf": 1e-3,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 20,
    "min_data_per_group": 50,
    "max_cat_to_onehot": 8,
    "num_threads": 2,
    "seed": 17,
    "deterministic": True,
    "verbosity": -1,
}
MAX_ROUNDS = 400
EARLY_STOP = 40


class NotEnoughLabels(ValueError):
    """The data holds too few labels of one class to learn from."""


@dataclass
class TrainResult:
    model: RiskModel
    metrics: dict[str, float]
    test: TrainingSet
    run_id: str | None = None


def split(data: TrainingSet, valid: float = 0.15, test: float = 0.15) -> tuple[TrainingSet, TrainingSet, TrainingSet]:
    """Time-ordered split: the model never learns from a period after the one it is judged on."""
    n = len(data)
    a, b = int(n * (1 - valid - test)), int(n * (1 - test))
    return data.subset(0, a), data.subset(a, b), data.subset(b, n)


def fit_platt(margins: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted logistic fit p = sigmoid(a*m + b) by Newton steps (two parameters, no library needed)."""
    a, b = 1.0, 0.0
    X = np.column_stack([margins, np.ones_like(margins)])
    for _ in range(50):
        p = sigmoid(a * margins + b)
        gradient = X.T @ (weights * (p - labels))
        hessian = (X * (weights * p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-8:
            break
    return float(a), float(b)


def fit(data: TrainingSet, params: dict[str, Any] | None = None, name: str = "local") -> tuple[RiskModel, TrainingSet]:
    """Train on the oldest 70%, stop early and calibrate on the next 15%; returns the model and the test part."""
    train, valid, test = split(data)
    for part_name, part in (("training", train), ("validation", valid)):
        positives = int(part.y.sum())
        if positives < 3 or positives == len(part):
            raise NotEnoughLabels(
                f"{part_name} period has {positives} contraband labels out of {len(part)}: need at least 3 of each"
            )
    schema = FeatureSchema(vocabularies=build_vocabularies(train.rows))
    encoder = Encoder(schema)
    X_train, X_valid = encoder.encode(train.rows), encoder.encode(valid.rows)
    categorical = schema.categorical_indices
    train_set = lgb.Dataset(X_train, train.y, weight=train.w, feature_name=FEATURE_NAMES,
                            categorical_feature=categorical, free_raw_data=False)
    valid_set = lgb.Dataset(X_valid, valid.y, weight=valid.w, reference=train_set)
    booster = lgb.train(
        {**PARAMS, **(params or {}), "metric": "average_precision"},
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
    )
    booster.free_dataset()
    raw = RiskModel(booster=booster, schema=schema, name=name)
    schema.calibration = fit_platt(raw.margins(X_valid), valid.y.astype(float), valid.w)
    model = RiskModel(booster=booster, schema=schema, name=name)
    reference_rows = valid.rows + test.rows
    schema.reference = drift.profile(reference_rows, model.score_rows(valid.rows))
    return model, test


def metrics_for(
    model: RiskModel, data: TrainingSet, share: float, truth_p: np.ndarray | None = None
) -> dict[str, float]:
    scores = model.score_rows(data.rows)
    cap = evaluate.at_capacity(scores, data.y, share, data.w, truth_p)
    return {
        "recall_at_capacity": cap.recall,
        "precision_at_capacity": cap.precision,
        "caught_per_1000_screened": cap.caught_per_1000,
        "perfect_recall_at_capacity": cap.perfect_recall,
        "recall_ratio_to_perfect": cap.recall_ratio,
        "precision_ratio_to_perfect": cap.precision_ratio,
        "pr_auc": evaluate.average_precision(scores, data.y, data.w),
        "mean_score": float(np.mean(scores)) if len(scores) else float("nan"),
        "observed_rate": float(np.average(data.y, weights=data.w)) if len(data) else float("nan"),
    }


def train_and_log(
    data: TrainingSet,
    registered_name: str,
    capacity_share: float,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Fit, evaluate on the held-out period and log everything to the active MLflow run; registers a version."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("train_and_log needs an active MLflow run")
    model, test = fit(data, params, registered_name)
    metrics = metrics_for(model, test, capacity_share)
    start, end = data.window()
    mlflow.set_tags({"data_source": data.source, **(tags or {})})
    mlflow.log_params({
        **{k: v for k, v in {**PARAMS, **(params or {})}.items() if k != "verbosity"},
        "capacity_share": capacity_share, "rows": len(data), "positives": int(data.y.sum()),
        "test_rows": len(test), "window_start": start, "window_end": end,
        "best_iteration": model.booster.best_iteration, "n_features": len(FEATURE_NAMES),
    })
    mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if np.isfinite(v)})
    importance = dict(zip(FEATURE_NAMES, model.booster.feature_importance("gain").tolist(), strict=True))
    mlflow.log_dict({"numeric": NUMERIC_FEATURES, "categorical": CATEGORICAL_FEATURES}, "feature_list.json")
    mlflow.log_dict(dict(sorted(importance.items(), key=lambda kv: -kv[1])), "feature_importance.json")
    mlflow.log_text(model_card(data, test, metrics, capacity_share), "model_card.md")
    sample = model.encoder.encode(test.rows[:50])
    model.version = registry.log_model(model, sample, registered_name)
    return TrainResult(model=model, metrics=metrics, test=test, run_id=run.info.run_id)


def model_card(data: TrainingSet, test: TrainingSet, metrics: dict[str, float], share: float) -> str:
    start, end = data.window()
    return "\n".join([
        "# ParcelGuard risk model",
        "",
        "Scores in-scope inbound parcels for contraband risk; used to choose which parcels get an X-ray",
        f"screening within a capacity of {share:.0%} of in-scope parcels.",
        "",
        f"- data: {data.source}, {len(data)} labelled rows, {int(data.y.sum())} contraband, window {start} to {end}",
        f"- held-out (latest) period: {len(test)} rows",
        "- labels weighted by inverse screening propensity; released parcels without a label are excluded",
        "- personal data: entity features are counts over keyed hashes; no names, phones or addresses",
        "",
        "## Held-out metrics",
        "```",
        json.dumps({k: round(v, 4) for k, v in metrics.items() if np.isfinite(v)}, indent=2),
        "```",
        "",
        "Limits: trained on what was screened; a pattern never screened is invisible to it except through",
        "the random exploration share.",
    ])
