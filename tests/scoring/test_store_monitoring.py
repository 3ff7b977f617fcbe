"""Store reads for monitoring and the alerts table, on every database backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.manifest import Outcome
from scoring.store import Store
from tests.scoring.api_support import record, seed

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def _alert(key_suffix: str, value: float) -> dict[str, object]:
    return {"key": f"feature_drift|all|day|{key_suffix}|1", "kind": "feature_drift", "severity": "warning",
            "scope": "all", "granularity": "day", "window_start": T0, "window_end": T0 + timedelta(days=1),
            "model_name": "parcelguard-risk", "model_version": "1", "message": "volume_l drifting",
            "detail": {"features": [{"feature": "volume_l", "value": value}]}, "value": value, "threshold": 1.0}


def test_alerts_upsert_by_key_keep_their_acknowledgement(store: Store) -> None:
    assert store.alerts.record([_alert("a", 1.2), _alert("b", 1.5)]) == 2
    first = {a.key: a for a in store.alerts.recent()}
    target = first["feature_drift|all|day|a|1"]
    assert store.alerts.acknowledge(target.id, "analyst-chen")
    assert not store.alerts.acknowledge(target.id, "analyst-chen")  # already acknowledged
    assert store.alerts.record([_alert("a", 1.9)]) == 0  # re-judged window: updated, not duplicated
    again = {a.key: a for a in store.alerts.recent()}
    assert len(again) == 2 and again[target.key].value == 1.9
    assert again[target.key].acknowledged_by == "analyst-chen"
    assert again[target.key].window_start == T0
    assert [a.key for a in store.alerts.recent(open_only=True)] == ["feature_drift|all|day|b|1"]


def test_monitoring_rows_carry_labels_late_labels_and_versions(store: Store) -> None:
    seed(store, [record("P-HIT", action="SCREEN"), record("P-CLEAR", action="SCREEN"),
                 record("P-LATE", action="RELEASE", why="model"), record("P-OPEN", action="RELEASE", why="model")])
    at = datetime(2026, 11, 21, tzinfo=UTC)
    store.outcomes.record(Outcome(parcel_id="P-HIT", screened_at=at, result="contraband"), "s1")
    store.outcomes.record(Outcome(parcel_id="P-CLEAR", screened_at=at, result="clear"), "s1")
    store.outcomes.record(Outcome(parcel_id="P-LATE", screened_at=at, result="contraband", source="late"), "police")
    first, last = store.reads.time_range() or (None, None)
    assert first is not None and last is not None
    rows = {r["parcel_id"]: r for r in store.reads.monitoring_rows(first, last + timedelta(seconds=1))}
    assert (rows["P-HIT"]["label"], rows["P-CLEAR"]["label"], rows["P-OPEN"]["label"]) == (True, False, None)
    assert rows["P-LATE"]["label"] is True and rows["P-LATE"]["late"] and not rows["P-HIT"]["late"]
    assert rows["P-HIT"]["model_version"] == "1" and rows["P-HIT"]["accepted_at"].tzinfo is not None
    assert store.reads.by_version() == {"1": {"acted": 4, "shadow": 0}}
    assert list(store.reads.monitoring_rows(first, last + timedelta(seconds=1), hub_id="NOWHERE")) == []
