"""A decision log worth analysing, built once per session for the monitoring, CLI and page tests.

A champion (v1) is bootstrapped on 12 generated days; a smaller challenger (v2) loses promotion and
runs in shadow; four live days (the last three under the generator's benign shift) are scored through
the service's own ``Scorer`` into the store, and screened parcels get their true outcome (a share of
released contraband surfaces later as a late label).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import mlflow

from models import registry
from models.features import FeatureBuilder
from models.manifest import Manifest, Outcome
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.policy import PolicyConfig
from scoring.store import Store
from tests.conftest import make_settings
from tests.worlds import SMALL
from training import pipeline
from training.dataset import replay_history
from training.promote import compare_and_promote
from training.train import train_and_log
from training.world.generate import WorldConfig, generate, write_world

LIVE = WorldConfig(days=SMALL.days + 4, parcels_per_day=SMALL.parcels_per_day, seed=SMALL.seed,
                   shift_day=SMALL.days + 1)


@dataclass(frozen=True)
class Scenario:
    settings: Settings
    store: Store
    truth: dict[str, bool]


@cache
def scenario(root: Path) -> Scenario:
    """Built once per session (``root`` is the session's base temp folder)."""
    settings = make_settings(root / "analyst" / "data", hub_capacity_per_hour={})
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    files = write_world(SMALL, root / "analyst" / "world")
    builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
    policy = PolicyConfig.build(settings.priority_origins, settings.destinations)
    data, history = replay_history(files.manifests, files.outcomes, builder, policy)
    first = pipeline.run_training(settings, data, "bootstrap")
    assert first.comparison.promoted
    with mlflow.start_run(run_name="retrain"):
        challenger = train_and_log(data, settings.model_name, settings.capacity_share,
                                   params={"num_leaves": 7, "learning_rate": 0.1}, tags={"job": "retrain"})
        compare_and_promote(challenger.model, challenger.test, settings.capacity_share, margin=1.0)
    assert registry.alias_version(settings.model_name, "challenger") == "2"

    # The service's decision path (Scorer.decide) with the entity history kept in memory: writing
    # ~100k entity stats to SQLite is the store's job and tested elsewhere, and costs a minute here.
    scorer = Scorer(settings, None, ModelSource(settings.model_name))
    scorer.refresh_model(force=True)
    scorer.history = history
    truth: dict[str, bool] = {}
    batch: list[tuple[Manifest, dict[str, Any]]] = []
    for raw, fact in generate(LIVE):
        if fact["day"] < SMALL.days:
            continue
        truth[raw["parcel_id"]] = bool(fact["label"])
        batch.append((Manifest.model_validate(raw), raw))
        if len(batch) == 1000:
            store.decisions.record(scorer.decide(batch, history), {})
            batch.clear()
    store.decisions.record(scorer.decide(batch, history), {})
    _screen(store, truth)
    return Scenario(settings, store, truth)


def _screen(store: Store, truth: dict[str, bool]) -> None:
    """Screeners record what they find; some released contraband surfaces later (seeded)."""
    rng = random.Random(3)
    since, until = store.reads.time_range() or (None, None)
    assert since is not None and until is not None
    for row in store.reads.monitoring_rows(since, until + timedelta(seconds=1)):
        label = truth[row["parcel_id"]]
        at = row["accepted_at"] + timedelta(hours=1)
        if row["action"] == "SCREEN":
            outcome = Outcome(parcel_id=row["parcel_id"], screened_at=at, result="contraband" if label else "clear",
                              contraband_type="methamphetamine" if label else None)
            store.outcomes.record(outcome, "screener-1")
        elif label and row["why"] != "out_of_scope" and rng.random() < 0.3:
            store.outcomes.record(Outcome(parcel_id=row["parcel_id"], screened_at=at + timedelta(days=2),
                                         result="contraband", source="late"), "police-liaison")
