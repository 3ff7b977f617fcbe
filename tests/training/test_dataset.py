"""Training sets from the decision log: exact logged rows, IPW weights, late labels, no unlabelled 'clean'."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureBuilder, FeatureRow
from models.manifest import Decision, Manifest, Outcome
from models.pii import Hasher
from scoring.policy import PolicyConfig
from scoring.store import DecisionRecord, Store
from tests import factories
from training.dataset import TrainingSet, from_decision_log, replay_manifests
from training.train import TrainConfig, split

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _row(value: float) -> FeatureRow:
    return {**dict.fromkeys(NUMERIC_FEATURES, math.nan), "weight_kg": value, **dict.fromkeys(CATEGORICAL_FEATURES, "x")}


def _record(pid: str, action: str, why: str, propensity: float, at: datetime, value: float) -> DecisionRecord:
    decision = Decision(parcel_id=pid, hub_id="HAK-MEILAN", action=action, why=why, score=0.1,  # type: ignore[arg-type]
                        propensity=propensity, model_name="m", model_version="1", reasons=[], decided_at=at)
    return DecisionRecord(decision=decision, features=_row(value), manifest={}, accepted_at=at,
                          origin_province="Yunnan")


def _outcome(store: Store, pid: str, result: str, source: str = "xray") -> None:
    store.outcomes.record(Outcome(parcel_id=pid, screened_at=T0 + timedelta(days=1), result=result,  # type: ignore[arg-type]
                                 source=source), "tester")  # type: ignore[arg-type]


def test_decision_log_rows_are_ipw_weighted_and_unlabelled_releases_left_out(store: Store) -> None:
    records = [
        _record("M1", "SCREEN", "model", 1.0, T0, 1.0),
        _record("E1", "SCREEN", "exploration", 0.01, T0 + timedelta(hours=1), 2.0),
        _record("R1", "RELEASE", "model", 0.01, T0 + timedelta(hours=2), 3.0),  # never labelled
        _record("L1", "RELEASE", "model", 0.01, T0 + timedelta(hours=3), 4.0),  # contraband surfaced later
        _record("O1", "RELEASE", "out_of_scope", 0.0, T0 + timedelta(hours=4), 5.0),
        _record("P1", "SCREEN", "model", 1.0, T0 + timedelta(hours=5), 6.0),  # screened, outcome not yet in
    ]
    store.decisions.record(records, {})
    _outcome(store, "M1", "contraband")
    _outcome(store, "E1", "clear")
    _outcome(store, "L1", "contraband", source="late")
    _outcome(store, "O1", "contraband", source="late")

    data = from_decision_log(store)
    assert data.ids == ["M1", "E1", "L1"]
    assert data.labels == [1, 0, 1]
    assert data.weights == [1.0, pytest.approx(100.0), 1.0]
    assert data.whys == ["model", "exploration", "late"]
    # The exact logged feature row comes back, not a recomputation.
    assert [row["weight_kg"] for row in data.rows] == [1.0, 2.0, 4.0]
    # Unlabelled in-scope rows still describe the population (drift reference, score window).
    assert sorted(float(row["weight_kg"] or 0) for row in data.population_rows()) == [1.0, 2.0, 3.0, 4.0, 6.0]


def test_a_window_reads_only_decisions_inside_it(store: Store) -> None:
    store.decisions.record([_record(f"M{i}", "SCREEN", "model", 1.0, T0 + timedelta(days=i), float(i))
                            for i in range(4)], {})
    for i in range(4):
        _outcome(store, f"M{i}", "clear")
    data = from_decision_log(store, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert data.ids == ["M1", "M2"]


def _dataset(days: int, per_day: int, weight: float, start: float = 0.0) -> TrainingSet:
    data = TrainingSet()
    for d in range(days):
        for i in range(per_day):
            data.add(f"{d}-{i}", _row(float(d)), i == 0, weight, start + d * 86400 + i)
    return data


def test_split_is_by_time_and_weight_so_sparse_log_days_count_as_whole_days() -> None:
    history = _dataset(10, 100, 1.0)  # fully screened days: 100 rows of weight 1
    log = _dataset(10, 5, 20.0, start=10 * 86400)  # log days: 5 labelled rows standing for 100 parcels each
    data = TrainingSet()
    data.extend(history)
    data.extend(log)
    train, valid, test = split(data, 0.15, 0.15)
    assert max(train.times) < min(valid.times) and max(valid.times) < min(test.times)
    # 15% of the weight is the last 3 of 20 days, although those days hold only 15 of the 1,050 rows.
    assert len(test) == 15 and len(valid) == 15
    fixed = split(data, config=TrainConfig(test_days=1.5, valid_days=2.0))[2]
    assert {int(t // 86400) for t in fixed.times} == {18, 19}


def test_ipw_weights_are_bounded_and_old_layout_rows_upgraded_or_left_out(store: Store) -> None:
    from sqlalchemy import update

    from models.features import FEATURE_NAMES
    from models.history import OUTCOME_FEATURES
    from scoring.db import decisions
    from training.dataset import MIN_PROPENSITY

    old_layout = _record("V1", "SCREEN", "model", 1.0, T0 + timedelta(hours=3), 7.0)
    assert old_layout.features is not None
    version_1 = [None if isinstance(v, float) and math.isnan(v) else v
                 for k, v in old_layout.features.items() if k in FEATURE_NAMES and k not in OUTCOME_FEATURES]
    broken = _record("X1", "SCREEN", "model", 1.0, T0 + timedelta(hours=4), 8.0)
    records = [
        _record("E1", "SCREEN", "exploration", 0.05, T0, 1.0),
        _record("E2", "SCREEN", "exploration", 0.0004, T0 + timedelta(hours=1), 2.0),  # a low-score exploration
        old_layout, broken,
    ]
    store.decisions.record(records, {})
    with store.engine.begin() as conn:  # rows as logged by earlier versions: positional lists
        conn.execute(update(decisions).where(decisions.c.parcel_id == "V1").values(features=version_1))
        conn.execute(update(decisions).where(decisions.c.parcel_id == "X1").values(features=[1.0, 2.0]))
    for pid in ("E1", "E2", "V1", "X1"):
        _outcome(store, pid, "clear")
    data = from_decision_log(store)
    assert data.ids == ["E1", "E2", "V1"]  # a row of an unknown layout is left out, never misread
    assert data.weights == [pytest.approx(20.0), pytest.approx(1 / MIN_PROPENSITY), 1.0]
    assert max(data.weights) <= 1 / MIN_PROPENSITY
    assert set(NUMERIC_FEATURES + CATEGORICAL_FEATURES) <= set(data.rows[2])
    assert data.rows[2]["weight_kg"] == 7.0 and math.isnan(data.rows[2]["sender_seized"])  # type: ignore[arg-type]


def test_replay_keeps_the_served_population_when_destinations_are_cities() -> None:
    """Scope has one home: with destinations configured as cities, the bootstrap replay trains on the parcels
    serving scores (the replay used to leave the destination city out and so dropped every one of them)."""

    policy = PolicyConfig.build(["Yunnan"], ["Haikou"])  # a city, not a province
    parcel = Manifest.model_validate(factories.manifest(parcel_id="JT0000000042"))
    data, _ = replay_manifests([parcel], {"JT0000000042": True}, FeatureBuilder(Hasher("test")), policy)
    assert data.ids == ["JT0000000042"]
    assert len(data.population) == 1
