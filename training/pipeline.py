"""Training jobs end to end: bootstrap from a labelled history, or retrain from the decision log;
each is one MLflow run that trains, evaluates, registers and decides promotion."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow

from models import registry
from models.features import FeatureBuilder
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from scoring.store import Store
from training.dataset import TrainingSet, from_decision_log, replay_history
from training.promote import Comparison, compare_and_promote
from training.train import TrainResult, train_and_log

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    train: TrainResult
    comparison: Comparison


def _policy(settings: Settings) -> PolicyConfig:
    return PolicyConfig.build(settings.priority_origins, settings.destinations)


def history_set(
    settings: Settings, manifests: Path, outcomes: Path, store: Store | None,
    progress: Callable[[int], None] | None = None,
) -> TrainingSet:
    """Replay a labelled history; hand its entity state to an empty store so scoring continues from it."""
    builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
    data, history = replay_history(manifests, outcomes, builder, _policy(settings), progress=progress)
    if store is not None and store.count_decisions() == 0:
        store.save_entity_stats(history.stats)
        log.info("entity history seeded from the labelled history", extra={"entities": len(history.stats)})
    return data


def run_training(settings: Settings, data: TrainingSet, run_name: str) -> JobResult:
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    with mlflow.start_run(run_name=run_name):
        result = train_and_log(data, settings.model_name, settings.capacity_share, tags={"job": run_name})
        comparison = compare_and_promote(result.model, result.test, settings.capacity_share, settings.promotion_margin)
    return JobResult(result, comparison)


def bootstrap(
    settings: Settings, store: Store | None, manifests: Path, outcomes: Path,
    progress: Callable[[int], None] | None = None,
) -> JobResult:
    return run_training(settings, history_set(settings, manifests, outcomes, store, progress), "bootstrap")


def retrain(settings: Settings, store: Store, manifests: Path | None = None, outcomes: Path | None = None) -> JobResult:
    """Retrain on logged feature rows and outcomes (plus a labelled history, if given)."""
    data = from_decision_log(store)
    if manifests is not None and outcomes is not None:
        data.extend(history_set(settings, manifests, outcomes, None))
    log.info("retraining", extra={"rows": len(data), "positives": int(data.y.sum()) if len(data) else 0})
    return run_training(settings, data, "retrain")
