"""Outcome history: a recorded screening or seizure is credited to the parcel's entities by the store,
so parcels decided afterwards (and only those) see it in their features; old logged rows still read."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from models.features import FEATURE_NAMES, FeatureBuilder, upgrade_row
from models.history import OUTCOME_FEATURES, EntityStat, HistoryState
from models.manifest import Manifest, Outcome
from models.pii import Hasher
from models.risk_model import FeatureSchema, RiskModel
from scoring.engine import ModelSource, Scorer, labels_known
from scoring.policy import NOVELTY_GAIN, novelty
from scoring.store import Store
from tests.conftest import make_settings
from tests.factories import manifest
from tests.streams.support import tiny_model

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _parcel(pid: str, minutes: float, **changes: Any) -> tuple[Manifest, dict[str, Any]]:
    raw = manifest(parcel_id=pid, accepted_at=(T0 + timedelta(minutes=minutes)).isoformat(), **changes)
    return Manifest.model_validate(raw), raw


def _features(store: Store, pid: str) -> dict[str, Any]:
    row = store.decisions.get(pid)
    assert row is not None
    return dict(row.features or {})


def test_a_seizure_is_seen_by_the_senders_and_recipients_later_parcels_only(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    settings = make_settings(tmp_path / "data", priority_origins=["Yunnan"], capacity_share=0.5)
    scorer = Scorer(settings, store, ModelSource.fixed(model))
    scorer.process([_parcel("A1", 0), _parcel("A2", 1)])  # same sender and recipient, decided together
    assert store.outcomes.record(Outcome(parcel_id="A1", screened_at=T0 + timedelta(hours=1), result="contraband"),
                                "screener")
    scorer.process([_parcel("A3", 90), _parcel("B1", 91, sender__account_id="ACC-9", sender__phone="13700137000",
                                               sender__id_number="530102199001019999",
                                               recipient__phone="13600136000", recipient__address="1 Other Rd",
                                               destination__address="1 Other Rd")])
    before, after, other = _features(store, "A2"), _features(store, "A3"), _features(store, "B1")
    assert before["sender_seized"] == 0 and before["recipient_seized"] == 0 and before["sender_screened"] == 0
    assert after["sender_seized"] == 1 and after["recipient_seized"] == 1 and after["pair_seized"] == 1
    assert after["sender_screened"] == 1 and after["recipient_screened"] == 1
    assert other["sender_seized"] == 0 and other["recipient_seized"] == 0
    # The scorer's own write-back of the entities A3 moved did not undo the seizure.
    keys = scorer.features.entity_keys(_parcel("A3", 90)[0])
    assert keys.sender_account is not None
    stat = store.stats.load([keys.sender_account])[keys.sender_account]
    assert (stat.count, stat.screened, stat.seized) == (3, 1, 1)


def test_a_repeated_or_corrected_outcome_is_counted_once(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    scorer = Scorer(make_settings(tmp_path / "data", priority_origins=["Yunnan"]), store, ModelSource.fixed(model))
    scorer.process([_parcel("C1", 0)])
    at = T0 + timedelta(hours=1)
    address = scorer.features.entity_keys(_parcel("C1", 0)[0]).recipient_address
    assert address is not None

    def counts() -> tuple[int, int]:
        stat = store.stats.load([address])[address]
        return stat.screened, stat.seized

    store.outcomes.record(Outcome(parcel_id="C1", screened_at=at, result="clear"), "screener")
    store.outcomes.record(Outcome(parcel_id="C1", screened_at=at, result="clear"), "screener")
    assert counts() == (1, 0)
    store.outcomes.record(Outcome(parcel_id="C1", screened_at=at, result="contraband"), "supervisor")  # corrected
    assert counts() == (1, 1)
    store.outcomes.record(Outcome(parcel_id="C1", screened_at=at, result="contraband", source="late"), "police")
    assert counts() == (1, 1)  # already counted as seized
    store.outcomes.record(Outcome(parcel_id="NEVER-DECIDED", screened_at=at, result="contraband"), "screener")


def test_stored_manifests_give_back_the_entity_keys() -> None:
    hasher = Hasher("k")
    builder = FeatureBuilder(hasher)
    for raw in (manifest(), manifest(recipient__address=None), manifest(sender__account_id=None)):
        parsed = Manifest.model_validate(raw)
        assert FeatureBuilder.keys_from_redacted(hasher.redact(raw)) == builder.entity_keys(parsed)


def test_replayed_history_sees_an_outcome_only_once_it_is_known() -> None:
    from scoring.policy import PolicyConfig
    from training.dataset import OUTCOME_DELAY_S, replay_manifests

    parcels = [_parcel(f"R{i}", minutes)[0] for i, minutes in enumerate((0, 10, OUTCOME_DELAY_S / 60 + 1))]
    data, history = replay_manifests(parcels, {"R0": True, "R1": False, "R2": False}, FeatureBuilder(Hasher("k")),
                                     PolicyConfig.build(["*"], ["*"]))
    seized = [row["sender_seized"] for row in data.rows]
    screened = [row["sender_screened"] for row in data.rows]
    assert seized == [0, 0, 1] and screened == [0, 0, 1]  # R1's outcome is not known yet
    assert all(stat.screened == 3 and stat.seized == 1 for stat in history.stats.values())


def test_version_one_rows_and_models_still_work() -> None:
    row = FeatureBuilder(Hasher("k")).build(_parcel("V", 0)[0], HistoryState(stats={}))
    v2 = [row[name] for name in FEATURE_NAMES]  # the positional layout of feature version 2
    old = [row[name] for name in FEATURE_NAMES if name not in OUTCOME_FEATURES]  # version 1
    assert upgrade_row(v2) == row
    upgraded = upgrade_row(old)
    assert upgraded is not None and set(upgraded) == set(FEATURE_NAMES)
    assert all(math.isnan(upgraded[name]) for name in OUTCOME_FEATURES)  # type: ignore[arg-type]
    assert all(upgraded[name] == row[name] or upgraded[name] != upgraded[name]  # NaN == NaN here
               for name in FEATURE_NAMES if name not in OUTCOME_FEATURES)
    assert upgrade_row(v2[:-1]) is None  # any other layout is left out, never misread
    # A registered version-1 model (its schema lists the old names) reads its columns from today's rows by name.
    model, _ = tiny_model()
    v1_names = [n for n in FEATURE_NAMES if n not in OUTCOME_FEATURES]
    v1 = RiskModel(booster=model.booster, schema=FeatureSchema.from_dict({**model.schema.to_dict(), "names": v1_names}))
    assert FeatureSchema.from_dict({k: v for k, v in model.schema.to_dict().items() if k != "feature_version"}
                                   ).feature_version == 1
    encoded = v1.encoder.encode([row])
    assert encoded.shape == (1, len(v1_names))
    start = FEATURE_NAMES.index(OUTCOME_FEATURES[0])
    assert np.array_equal(encoded[0, :start], model.encoder.encode([row])[0, :start], equal_nan=True)


def test_history_state_counts_outcomes_and_merges_them_into_a_cache() -> None:
    keys = FeatureBuilder(Hasher("k")).entity_keys(_parcel("H", 0)[0])
    state = HistoryState()
    state.record_outcome(keys, 1, 1, 0.0)
    state.record_outcome(keys, 0, -1)  # a correction
    assert {(s.screened, s.seized) for s in state.stats.values()} == {(1, 0)}
    cached = HistoryState(stats={k: EntityStat(count=4) for k in keys.all()})
    cached.merge_outcomes({k: EntityStat(screened=2, seized=1) for k in keys.all()})
    assert {(s.count, s.screened, s.seized) for s in cached.stats.values()} == {(4, 2, 1)}


def test_exploration_leans_towards_parties_screening_has_never_seen(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    settings = make_settings(tmp_path / "data", priority_origins=["Yunnan"], capacity_share=0.5)
    scorer = Scorer(settings, store, ModelSource.fixed(model))
    passed: dict[str, float] = {}
    choose = scorer.policy.choose

    def spy(parcel_id: str, *args: Any, **kwargs: Any) -> Any:
        passed[parcel_id] = args[-1]  # the novelty the scorer hands the policy
        return choose(parcel_id, *args, **kwargs)

    scorer.policy.choose = spy  # type: ignore[method-assign]
    scorer.process([_parcel("N1", 0)])
    store.outcomes.record(Outcome(parcel_id="N1", screened_at=T0 + timedelta(hours=1), result="clear"), "screener")
    scorer.process([_parcel("N2", 90)])
    first, later = _features(store, "N1"), _features(store, "N2")
    assert first["sender_screened"] == first["recipient_screened"] == 0
    assert later["sender_screened"] == later["recipient_screened"] == 1
    # Nobody had screened N1's parties: full novelty; N2's were screened once each, so less of it.
    assert passed["N1"] == novelty(0.0) == 1.0 + NOVELTY_GAIN
    assert passed["N2"] == novelty(2.0) < passed["N1"]
    assert labels_known(store.decisions.get("N2").features) == 2.0  # type: ignore[union-attr, arg-type]
