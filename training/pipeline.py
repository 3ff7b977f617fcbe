"""Training jobs end to end: bootstrap from a labelled history, or retrain from the decision log;
each is one MLflow run that trains, evaluates, registers and decides promotion.

Safe beside live scorers: a job only reads the store, registers a new version and moves an alias,
which scorers pick up on their next registry check. A lock file keeps two jobs (a cron entry and a
loop, say) from training at once; ``run_scheduled`` is the loop form of the one-shot job.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow

from models import registry
from models.features import FeatureBuilder
from models.pii import Hasher
from parcelguard.config import Settings
from parcelguard.errors import ParcelGuardError
from scoring.policy import PolicyConfig
from scoring.store import Store
from training import field_types
from training.dataset import FieldOptions, TrainingSet, from_decision_log, replay_history
from training.promote import Comparison, compare_and_promote
from training.train import NotEnoughLabels, TrainConfig, TrainResult, train_and_log

log = logging.getLogger(__name__)
LOCK_FILE = "training.lock"


class TrainingBusy(ParcelGuardError, RuntimeError):
    """Another training job holds the lock."""


@dataclass
class JobResult:
    train: TrainResult
    comparison: Comparison


@contextlib.contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Hold the training lock for the job's duration, or raise ``TrainingBusy`` at once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TrainingBusy(f"another training job holds {data_dir / LOCK_FILE}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _policy(settings: Settings) -> PolicyConfig:
    return PolicyConfig.build(settings.priority_origins, settings.destinations)


def history_set(
    settings: Settings, manifests: Path, outcomes: Path, store: Store | None,
    progress: Callable[[int], None] | None = None, field_types_file: Path | None = None,
) -> TrainingSet:
    """Replay a labelled history; hand its entity state to an empty store so scoring continues from it.
    ``field_types_file`` overrides inferred field types (``training.field_types.read_overrides``)."""
    builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
    options = FieldOptions(overrides=field_types.read_overrides(field_types_file))
    data, history = replay_history(manifests, outcomes, builder, _policy(settings), progress=progress,
                                   fields=options)
    if store is not None and store.decisions.count() == 0:
        store.stats.save(history.stats)
        log.info("entity history seeded from the labelled history", extra={"entities": len(history.stats)})
    return data


def run_training(
    settings: Settings, data: TrainingSet, run_name: str, config: TrainConfig | None = None
) -> JobResult:
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    with mlflow.start_run(run_name=run_name):
        result = train_and_log(data, settings.model_name, settings.capacity_share, tags={"job": run_name},
                               config=config)
        comparison = compare_and_promote(result.model, result.test, settings.capacity_share, settings.promotion_margin)
    return JobResult(result, comparison)


def bootstrap(
    settings: Settings, store: Store | None, manifests: Path, outcomes: Path,
    progress: Callable[[int], None] | None = None, field_types_file: Path | None = None,
) -> JobResult:
    with exclusive(settings.data_dir):
        # No champion to keep a held-out period from: the registered model learns from all of the history
        # (its held-out metrics come from the same recipe fitted before that period).
        data = history_set(settings, manifests, outcomes, store, progress, field_types_file)
        return run_training(settings, data, "bootstrap", TrainConfig(refit_all=True))


def retrain(
    settings: Settings, store: Store, manifests: Path | None = None, outcomes: Path | None = None,
    window_days: float | None = None, config: TrainConfig | None = None,
) -> JobResult:
    """Retrain on logged feature rows and outcomes (plus a labelled history, if given)."""
    with exclusive(settings.data_dir):
        since = datetime.now(UTC) - timedelta(days=window_days) if window_days else None
        data = from_decision_log(store, since=since)
        if manifests is not None and outcomes is not None:
            data.extend(history_set(settings, manifests, outcomes, None))
        log.info("retraining", extra={"rows": len(data), "positives": data.positives})
        return run_training(settings, data, "retrain", config)


def new_labels_since_last_run(settings: Settings, store: Store) -> int:
    """Labels recorded for parcels decided after the newest registered version's data window."""
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    newest: datetime | None = None
    for alias in ("champion", "challenger"):
        version = registry.alias_version(settings.model_name, alias)
        if version is not None:
            end = registry.version_info(settings.model_name, version)["params"].get("window_end")
            if end:
                moment = datetime.fromisoformat(end)
                newest = moment if newest is None or moment > newest else newest
    return sum(1 for row in store.reads.labelled_rows(since=newest)
               if row.label is not None and row.why != "out_of_scope")


def run_scheduled(
    settings: Settings, store: Store, every_s: float, stop: threading.Event, min_new_labels: int = 0,
    window_days: float | None = None, on_result: Callable[[JobResult], None] | None = None,
) -> None:
    """Retrain every ``every_s`` seconds until ``stop`` is set; a failed run is logged and retried next time."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            fresh = new_labels_since_last_run(settings, store) if min_new_labels else None
            if fresh is not None and fresh < min_new_labels:
                log.info("too few new labels to retrain", extra={"new_labels": fresh, "needed": min_new_labels})
            else:
                result = retrain(settings, store, window_days=window_days)
                if on_result is not None:
                    on_result(result)
        except (NotEnoughLabels, TrainingBusy) as exc:
            log.warning("scheduled retraining skipped", extra={"reason": str(exc)})
        except Exception:
            log.exception("scheduled retraining failed; retrying at the next slot")
        stop.wait(max(0.0, every_s - (time.monotonic() - started)))
