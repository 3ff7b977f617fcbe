"""Training: a time-ordered split, LightGBM with IPW weights, Platt calibration, MLflow run + registry.

The latest period is held out for evaluation and promotion. The period before it chooses the number
of trees and fits the calibration on a model that has not seen it; the model that is registered is
then refit on everything before the held-out period with those settings, so the newest labels the
evaluation can spare are not thrown away (a new pattern is learnt one period sooner).
The model is deliberately small (few shallow trees): TreeSHAP explanations cost grows with
trees x leaves x depth², and every screened parcel is explained.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np

from models import field_stats, registry
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES, FIELD, NUMERIC_FEATURES
from models.risk_model import Encoder, FeatureSchema, RiskModel, booster_names, build_vocabularies, sigmoid
from scoring.monitoring import drift
from training import evaluate, field_types, plots, selection
from training.calibration import CalibrationOff, calibrate, check_rate, match_mean
from training.dataset import TrainingSet
from training.small_data import NotEnoughLabels, enough_labels

log = logging.getLogger(__name__)
__all__ = ["NotEnoughLabels", "TrainConfig", "fit", "split", "train_and_log"]

PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Measured on the Korea declarations (docs/detection-2026-11.md): with the field stats, 31 leaves at
    # learning rate 0.03 and light regularisation beat the earlier small trees (15 leaves, min leaf 50,
    # feature_fraction 0.5, lambda_l2 10: 0.05 lower P@5%) on every time split; early stopping keeps the
    # trees few on small histories.
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10,
    "min_data_per_group": 20,
    "max_cat_threshold": 64,
    # One thread: on a shared 2-core machine OpenMP's spinning threads made training 5-15x slower.
    "num_threads": 1,
    "seed": 17,
    "deterministic": True,
    "verbosity": -1,
}
# Fewer contraband labels than SMALL_DATA_POSITIVES: the earlier small, strongly regularised trees (tuned on
# generated worlds of a few hundred positives), fewer rounds. On a 12-day generated history (~50 positives) the
# Korea parameters early-stopped at ~500 rounds on 15 validation positives and over-fitted.
SMALL_DATA_POSITIVES = 1000
SMALL_DATA_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05, "num_leaves": 15, "max_depth": 5, "min_data_in_leaf": 50, "feature_fraction": 0.5,
    "lambda_l2": 10.0, "cat_smooth": 20, "min_data_per_group": 50, "max_cat_to_onehot": 8,
}
SMALL_DATA_ROUNDS: dict[str, int] = {"min_rounds": 40, "max_rounds": 300, "patience": 40}
# Kept in every feature row (logged, drift-monitored, shown to analysts) but not given to the trees as
# raw values: hundreds of outlet ids and free-text descriptions let them memorise the rings they have seen
# (their complicit outlets, their cover wording) instead of learning how a ring ships. With a field spec
# these fields reach the trees only as as-of-time outcome rates (models.field_stats), which a new ring's
# fresh ids cannot be memorised through; the domain categoricals give way to the spec's typed fields.
UNUSED_FEATURES = ("outlet_id", "description")
MODEL_FEATURES = [name for name in FEATURE_NAMES if name not in UNUSED_FEATURES]
MODEL_CATEGORICAL = [name for name in CATEGORICAL_FEATURES if name not in UNUSED_FEATURES]
DAY_S = 86400.0
CURVE_SHARES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class TrainConfig:
    """How a training set is split and how long the trees grow."""

    valid_share: float = 0.15  # shares of the total weight (IPW weights make that a share of parcels)
    test_share: float = 0.15
    valid_days: float | None = None  # a fixed latest period instead of a share
    test_days: float | None = None
    min_rounds: int = 50  # early stopping on a few dozen positives is noisy: never fewer trees than this
    max_rounds: int = 2000
    patience: int = 100
    refit: bool = True
    refit_rounds: float = 1.1  # the refit sees ~15% more rows than the early-stopped fit: a few more trees
    refit_all: bool = False  # register a model refit on the held-out period too (a bootstrap: no champion yet)
    half_life_days: float | None = None  # older labels count less, so a new pattern weighs sooner
    max_pairs: int = 24  # field pairs with outcome rates (each a store read and write per parcel)
    # Seconds of hyperparameter and feature-set search after the default recipe (training.selection); with
    # the replay and refit, make up's first model (28 generated days) stays well under two minutes.
    search_seconds: float = 20.0


@dataclass
class TrainResult:
    model: RiskModel
    metrics: dict[str, float]
    test: TrainingSet
    run_id: str | None = None
    trained_until: float = math.nan  # epoch seconds: the model saw no label from this time on
    details: dict[str, Any] = field(default_factory=dict)


def _cut(data: TrainingSet, share: float | None, days: float | None, end: int) -> int:
    """Index where the last ``share`` of weight (or the last ``days``) of ``data[:end]`` begins."""
    if end == 0:
        return 0
    if days is not None:
        return int(np.searchsorted(np.asarray(data.times[:end]), data.times[end - 1] - days * DAY_S, side="left"))
    cumulative = np.cumsum(data.w[:end])
    threshold = (1 - (share or 0.0) - 1e-9) * cumulative[-1]  # a row ending exactly on the cut stays before it
    return min(end, int(np.searchsorted(cumulative, threshold, side="left")) + 1)


def split(
    data: TrainingSet, valid: float = 0.15, test: float = 0.15, config: TrainConfig | None = None
) -> tuple[TrainingSet, TrainingSet, TrainingSet]:
    """Time-ordered split: the model never learns from a period after the one it is judged on.

    Cut by weight rather than rows: a day of the decision log holds ~5% of its parcels as labelled rows,
    but their IPW weights add up to the whole day, like a day of a fully screened history.
    """
    config = config or TrainConfig(valid_share=valid, test_share=test)
    if data.periods is not None and config.valid_days is None and config.test_days is None:
        # a replay froze its field stats at these times: the periods must start exactly there
        return (data.between(None, data.periods[0]), data.between(data.periods[0], data.periods[1]),
                data.between(data.periods[1], None))
    b = _cut(data, config.test_share, config.test_days, len(data))
    total = float(np.sum(data.w)) or 1.0
    before = float(np.sum(data.w[:b]))
    valid_share = None if config.valid_days is not None else min(1.0, config.valid_share * total / max(before, 1e-9))
    a = _cut(data, valid_share, config.valid_days, b)
    return data.subset(0, a), data.subset(a, b), data.subset(b, len(data))


def recency_weights(parts: list[TrainingSet], half_life_days: float | None) -> np.ndarray:
    """IPW weights of the parts, in order, halved for every ``half_life_days`` of age (when set)."""
    weights = np.concatenate([part.w for part in parts])
    if half_life_days is None or not len(weights):
        return weights
    times = np.concatenate([np.asarray(part.times, dtype=float) for part in parts])
    return weights * np.power(0.5, (times.max() - times) / DAY_S / half_life_days)


class _EarlyStop:
    """Stops when the validation metric has not improved for ``patience`` rounds, never before ``min_rounds``."""

    def __init__(self, min_rounds: int, patience: int) -> None:
        self.min_rounds, self.patience = min_rounds, patience
        self.best_score, self.best_round = -math.inf, 0

    def __call__(self, env: Any) -> None:
        score = float(env.evaluation_result_list[0][2])
        if score > self.best_score:
            self.best_score, self.best_round = score, env.iteration + 1
        if env.iteration + 1 >= self.min_rounds and env.iteration + 1 - self.best_round >= self.patience:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    @property
    def rounds(self) -> int:
        return max(self.best_round, self.min_rounds)


def model_features(data: TrainingSet) -> tuple[list[str], list[str]]:
    """(numeric, categorical) names the trees read: the domain features, and with a field spec its typed
    fields (low-cardinality strings as native categoricals) and field stats instead of the domain categoricals."""
    spec = data.spec
    if spec is None:
        numeric = [n for n in MODEL_FEATURES if n not in MODEL_CATEGORICAL]
        return numeric, list(MODEL_CATEGORICAL)
    numeric = [*NUMERIC_FEATURES, *(FIELD + n for n in spec.numeric), *field_stats.feature_names(spec)]
    categorical = [FIELD + n for n in spec.categorical]
    return numeric, categorical


def fit(
    data: TrainingSet, params: dict[str, Any] | None = None, name: str = "local", config: TrainConfig | None = None
) -> tuple[RiskModel, TrainingSet]:
    """Train and calibrate on everything before the held-out period; returns the model and that period."""
    config = config or TrainConfig()
    if data.spec is None:  # a decision log: its rows carry the fields and stats the champion read
        data.spec = field_types.from_rows(data.rows)
    train, valid, test = split(data, config=config)
    train, valid = enough_labels(train, valid)
    small = train.positives + valid.positives < SMALL_DATA_POSITIVES
    if small:
        small_rounds = SMALL_DATA_ROUNDS
        config = replace(config, min_rounds=small_rounds["min_rounds"], max_rounds=small_rounds["max_rounds"],
                         patience=small_rounds["patience"])
    settings = {**PARAMS, **(SMALL_DATA_PARAMS if small else {}), **(params or {}), "metric": "average_precision"}
    numeric, categorical_names = model_features(data)
    names = [*numeric, *categorical_names]
    full_schema = FeatureSchema(names=names, categorical=categorical_names,
                                vocabularies=build_vocabularies(train.rows + valid.rows, categorical_names))
    full_encoder = Encoder(full_schema)
    X_train_all, X_valid_all = full_encoder.encode(train.rows), full_encoder.encode(valid.rows)
    train_weights = recency_weights([train], config.half_life_days)
    fitted: dict[tuple[int, ...], list[tuple[float, lgb.Booster, int]]] = {}

    def trial(trial_params: dict[str, Any], columns: list[int]) -> tuple[int, float]:
        kept = [names[c] for c in columns]
        train_set = lgb.Dataset(X_train_all[:, columns], train.y, weight=train_weights,
                                feature_name=booster_names(kept),
                                categorical_feature=[j for j, n in enumerate(kept) if n in categorical_names])
        valid_set = lgb.Dataset(X_valid_all[:, columns], valid.y, weight=valid.w, reference=train_set)
        stopper = _EarlyStop(config.min_rounds, config.patience)
        booster = lgb.train(trial_params, train_set, num_boost_round=config.max_rounds, valid_sets=[valid_set],
                            callbacks=[stopper])
        trial_rounds = min(stopper.rounds, booster.current_iteration())
        fitted.setdefault(tuple(columns), []).append((stopper.best_score, booster, trial_rounds))
        return trial_rounds, stopper.best_score

    pair_stats = {n for n in names if n.startswith(field_stats.STAT_PREFIXES) and "*" in n}
    choice = selection.select(settings, list(range(len(names))),
                              [c for c, n in enumerate(names) if n not in pair_stats], trial,
                              0.0 if small else config.search_seconds)
    first = next(b for ap, b, r in fitted[tuple(choice.columns)] if ap == choice.score and r == choice.rounds)
    settings, rounds = choice.params, choice.rounds
    kept = [names[c] for c in choice.columns]
    schema = FeatureSchema(names=kept, categorical=[n for n in categorical_names if n in kept],
                           vocabularies={n: v for n, v in full_schema.vocabularies.items() if n in kept},
                           fields=data.spec)
    encoder = Encoder(schema)
    X_valid = X_valid_all[:, choice.columns]
    categorical = schema.categorical_indices
    margins = np.asarray(first.predict(X_valid, raw_score=True, num_iteration=rounds, num_threads=1))
    schema.calibration = calibrate(margins, valid.y.astype(float), valid.w)
    a, b = schema.calibration
    try:
        check_rate(sigmoid(a * margins + b), valid.y.astype(float), valid.w, "validation")
    except CalibrationOff:
        # A Platt fit that missed the level (heavy IPW weights on a few exploration labels): keep the trees'
        # own log-odds and fit the level alone; refused only if even that cannot match the observed rate.
        a, b = 1.0, match_mean(np.clip(margins, -30.0, 30.0), valid.y.astype(float), valid.w)
        schema.calibration = (a, b)
        check_rate(sigmoid(a * margins + b), valid.y.astype(float), valid.w, "validation")
    schema.details = {"rounds": rounds, "small_data": small, "valid_positives": valid.positives,
                      "train_positives": train.positives, "variant": choice.variant,
                      "validation_ap": choice.score, "trials": len(choice.trials)}
    parts = [train, valid, test] if config.refit_all else [train, valid]
    if config.refit:
        rows = [row for part in parts for row in part.fresh_rows()]
        full = lgb.Dataset(encoder.encode(rows), np.concatenate([p.y for p in parts]),
                           weight=recency_weights(parts, config.half_life_days),
                           feature_name=booster_names(schema.names), categorical_feature=categorical)
        refit_rounds = max(rounds, round(rounds * config.refit_rounds))
        booster = lgb.train({k: v for k, v in settings.items() if k != "metric"}, full, num_boost_round=refit_rounds)
        # The refit is sharper than the early-stopped fit (more rows, more trees) and learnt from fresh stats:
        # keep the slope, and move the intercept so that its mean score on the validation rows as served
        # (stats frozen) is the one calibrated above.
        refit_margins = np.asarray(booster.predict(X_valid, raw_score=True, num_threads=1))
        schema.calibration = (a, match_mean(a * refit_margins, sigmoid(a * margins + b), valid.w))
    else:
        booster = lgb.Booster(model_str=first.model_to_string(num_iteration=rounds))
    model = RiskModel(booster=booster, schema=schema, name=name)
    since = valid.times[0] if len(valid) else None
    reference_rows = data.population_rows(since)
    schema.reference = drift.profile(reference_rows, model.score_rows(reference_rows))
    return model, test


def metrics_for(
    model: RiskModel, data: TrainingSet, share: float, truth_p: np.ndarray | None = None
) -> dict[str, float]:
    """Held-out metrics (IPW-weighted) with their perfect-ranking normalisers and the miss rate."""
    scores = model.score_rows(data.rows)
    metrics = evaluate.summary(scores, data.y, share, data.w, truth_p)
    explored = [i for i, why in enumerate(data.whys) if why == "exploration"]
    if explored:
        miss = evaluate.miss_rate(data.y[explored], 1.0 / data.w[explored])
        metrics.update(evaluate.as_dict(miss))
    return metrics


def train_and_log(
    data: TrainingSet,
    registered_name: str,
    capacity_share: float,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    config: TrainConfig | None = None,
) -> TrainResult:
    """Fit, evaluate on the held-out period and log everything to the active MLflow run; registers a version."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("train_and_log needs an active MLflow run")
    config = config or TrainConfig()
    model, test = fit(data, params, registered_name, config)
    metrics = metrics_for(model, test, capacity_share)
    trained_until = test.times[0] if len(test) else math.inf
    start, end = data.window()
    test_start, test_end = test.window()
    mlflow.set_tags({"data_source": data.source, **(tags or {})})
    mlflow.log_params({
        **{k: v for k, v in {**PARAMS, **(params or {})}.items() if k != "verbosity"},
        **{f"split_{k}": v for k, v in asdict(config).items()},
        "capacity_share": capacity_share, "rows": len(data), "positives": data.positives,
        "train_valid_rows": len(data) - len(test), "test_rows": len(test), "test_positives": test.positives,
        "window_start": start, "window_end": end, "test_start": test_start, "test_end": test_end,
        "trained_until": trained_until, "best_iteration": model.booster.current_iteration(),
        "n_features": len(model.schema.names),
        "calibration": json.dumps([round(c, 6) for c in model.schema.calibration]),
    })
    mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_metrics({"rows": float(len(data)), "positives": float(data.positives), "test_rows": float(len(test))})
    _log_artifacts(model, test, metrics, capacity_share)
    mlflow.log_text(model_card(data, test, metrics, capacity_share, model), "model_card.md")
    sample = model.encoder.encode(test.rows[:50] or data.rows[:50])
    model.version = registry.log_model(model, sample, registered_name)
    return TrainResult(model=model, metrics=metrics, test=test, run_id=run.info.run_id, trained_until=trained_until)


def _log_artifacts(model: RiskModel, test: TrainingSet, metrics: dict[str, float], share: float) -> None:
    """Feature list and schema, importance, the capacity curve and calibration, as JSON and PNG."""
    importance = dict(zip(model.schema.names, model.booster.feature_importance("gain").tolist(), strict=True))
    mlflow.log_dict({"numeric": NUMERIC_FEATURES, "categorical": model.schema.categorical,
                     "not_used_by_the_model": list(UNUSED_FEATURES),
                     "vocabulary_sizes": {k: len(v) for k, v in model.schema.vocabularies.items()}},
                    "feature_list.json")
    mlflow.log_dict(dict(sorted(importance.items(), key=lambda kv: -kv[1])), "feature_importance.json")
    scores = model.score_rows(test.rows)
    curve = evaluate.capacity_curve(scores, test.y, CURVE_SHARES, test.w) if test.positives else []
    table = evaluate.calibration_table(scores, test.y, test.w) if len(test) else []
    mlflow.log_dict({"capacity_curve": curve, "calibration": table}, "evaluation.json")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = [plots.importance(importance, root / "feature_importance.png")]
        if curve:
            paths.append(plots.capacity_curve(curve, share, root / "capacity_curve.png"))
        if table:
            paths.append(plots.calibration(table, root / "calibration.png"))
        for path in paths:
            mlflow.log_artifact(str(path), "plots")


def model_card(
    data: TrainingSet, test: TrainingSet, metrics: dict[str, float], share: float, model: RiskModel | None = None
) -> str:
    start, end = data.window()
    test_start, test_end = test.window()
    shown = {k: round(v, 4) for k, v in metrics.items() if np.isfinite(v)}
    kinds: dict[str, int] = {}
    for why in data.whys:
        kinds[why] = kinds.get(why, 0) + 1
    return "\n".join([
        "# ParcelGuard risk model",
        "",
        "Scores in-scope inbound parcels for contraband risk; used to choose which parcels get an X-ray",
        f"screening within a capacity of {share:.0%} of in-scope parcels. Scores are calibrated probabilities",
        "(Platt scaling on a period the trees did not see).",
        "",
        f"- data: {data.source}, {len(data)} labelled rows, {data.positives} contraband, window {start} to {end}",
        f"- labels by origin: {json.dumps(kinds)}",
        f"- held-out (latest) period: {test_start} to {test_end}, {len(test)} rows, {test.positives} contraband",
        f"- trees: {model.booster.current_iteration() if model else '?'}; "
        f"features: {len(model.schema.names) if model else '?'} (not used: {', '.join(UNUSED_FEATURES)})",
        "- labels weighted by inverse screening propensity; released parcels without a label are excluded,",
        "  the exploration labels (weighted up) stand for them",
        "- personal data: entity features are counts over keyed hashes; no names, phones or addresses",
        "",
        "## Held-out metrics (IPW-weighted; *_ratio_to_perfect divides by a perfect ranking's value)",
        "```",
        json.dumps(shown, indent=2),
        "```",
        "",
        "Limits: trained on what was screened; a pattern never screened is invisible to it except through",
        "the random exploration share and late labels. Metrics on a decision-log period rest on few",
        "exploration labels with large weights: read them with their confidence intervals.",
    ])
