"""One feature path: the row the scorer logs for a manifest equals the row training builds for it from the
same history, field stats included; and an outcome recorded in the store moves the stats later parcels read."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from models.features import FeatureBuilder
from models.manifest import Manifest, Outcome
from models.pii import Hasher
from scoring.engine import ModelSource, Scorer
from scoring.policy import PolicyConfig
from scoring.store import Store
from scoring.store.rows import logged_row
from tests.conftest import make_settings
from tests.factories import manifest
from tests.models.test_fields import SPEC
from tests.streams.support import tiny_model
from training.dataset import replay_manifests

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _batch(n: int, start: int = 0) -> list[tuple[Manifest, dict[str, Any]]]:
    out = []
    for i in range(start, start + n):
        raw = manifest(parcel_id=f"P{i}", accepted_at=(T0 + timedelta(minutes=10 * i)).isoformat(),
                       origin__outlet_id=f"OUT-{i % 3}", import_type=str(i % 2), tax_rate=float(i % 5))
        out.append((Manifest.model_validate(raw), raw))
    return out


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _scorer(tmp_path: Path, store: Store) -> Scorer:
    settings = make_settings(tmp_path / "data", priority_origins=["*"], destinations=["*"], capacity_share=0.2)
    model, _ = tiny_model()
    model.schema.fields = SPEC
    return Scorer(settings, store, ModelSource.fixed(model))


def test_the_served_row_equals_the_training_row(tmp_path: Path, store: Store) -> None:
    batch = _batch(12)
    _scorer(tmp_path, store).process(batch)
    served = {}
    for m, _ in batch:
        stored = store.decisions.get(m.parcel_id)
        assert stored is not None and stored.features is not None
        served[m.parcel_id] = logged_row(stored.features)
    data, _ = replay_manifests([m for m, _ in batch], {}, FeatureBuilder(Hasher("test-hash-key"), SPEC),
                               PolicyConfig.build(["*"], ["*"]))
    trained = [row for _, row in data.population]
    assert len(trained) == len(batch)
    for (m, _), row in zip(batch, trained, strict=True):
        assert set(row) == set(served[m.parcel_id])
        assert "rate:origin.outlet_id" in row and "f:import_type" in row
        assert all(_same(row[k], served[m.parcel_id][k]) for k in row), m.parcel_id


def test_an_outcome_recorded_in_the_store_moves_the_stats_of_later_parcels(tmp_path: Path, store: Store) -> None:
    scorer = _scorer(tmp_path, store)
    scorer.process(_batch(1))
    store.outcomes.record(Outcome(parcel_id="P0", screened_at=T0 + timedelta(hours=1), result="contraband"), "test")
    later = Scorer(scorer.settings, store, scorer.models)  # a fresh scorer reads the store, not a cache
    later.process(_batch(1, start=3))  # P3: the same outlet as P0
    stored = store.decisions.get("P3")
    assert stored is not None and stored.features is not None
    assert stored.features["screened:origin.outlet_id"] == 1.0
    assert stored.features["rate:origin.outlet_id"] > SPEC.prior
