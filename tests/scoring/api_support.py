"""Helpers for API tests: decisions put straight into a store (no Kafka), keys per role, a client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from models.features import FeatureBuilder
from models.history import HistoryState
from models.manifest import Decision, Manifest, Reason
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.api.app import create_app
from scoring.store import DecisionRecord, Store
from tests.factories import manifest

HUB, OTHER_HUB = "HAK-MEILAN", "SYX-TIANYA"
HASHER = Hasher("test-hash-key")  # the key tests.conftest.make_settings uses
ORIGIN = {"origin": "http://testserver"}  # what a browser sends with a post from the pages (CSRF check)
TOKENS = {"screener": "tok-screener", "screener2": "tok-screener-2", "other_screener": "tok-screener-syx",
          "analyst": "tok-analyst", "admin": "tok-admin", "hub": "tok-hub"}


def record(parcel_id: str, *, hub_id: str = HUB, action: str = "SCREEN", why: str = "model", score: float | None = 0.4,
           reasons: list[Reason] | None = None, **changes: Any) -> DecisionRecord:
    raw = manifest(parcel_id=parcel_id, hub_id=hub_id, **changes)
    parsed = Manifest.model_validate(raw)
    default = [Reason(feature="value_per_kg", contribution=0.8, text="declared value 120 CNY for 1.9 kg of “tea”")]
    decision = Decision(parcel_id=parcel_id, hub_id=hub_id, action=action, why=why, score=score,  # type: ignore[arg-type]
                        propensity=1.0 if why != "exploration" else 0.02, model_name="parcelguard-risk",
                        model_version="1", reasons=default if reasons is None else reasons,
                        decided_at=datetime.now(UTC))
    return DecisionRecord(decision=decision, features=FeatureBuilder(HASHER).build(parsed, HistoryState()),
                          manifest=HASHER.redact(raw), accepted_at=parsed.accepted_at,
                          origin_province=parsed.origin.province)


def seed(store: Store, records: list[DecisionRecord]) -> None:
    assert store.decisions.record(records, {}) == len(records)


def add_keys(store: Store) -> dict[str, dict[str, str]]:
    """One key per role; returns the Authorization header for each."""
    store.access.add_key("screener-wang", "screener", TOKENS["screener"], HUB)
    store.access.add_key("screener-li", "screener", TOKENS["screener2"], HUB)
    store.access.add_key("screener-syx", "screener", TOKENS["other_screener"], OTHER_HUB)
    store.access.add_key("analyst-chen", "analyst", TOKENS["analyst"])
    store.access.add_key("admin-zhao", "admin", TOKENS["admin"])
    store.access.add_key("hub-meilan", "hub", TOKENS["hub"], HUB)
    return {role: {"Authorization": f"Bearer {token}"} for role, token in TOKENS.items()}


def client(settings: Settings, store: Store) -> TestClient:
    return TestClient(create_app(settings, store), raise_server_exceptions=True)
