"""The API's operational endpoints: /livez, /readyz (database, broker, model in service) and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from parcelguard.config import Settings
from scoring import readiness
from scoring.api.app import create_app
from scoring.db import make_engine, workers
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker, free_port
from tests.scoring.api_support import OTHER_HUB, record, seed

pytestmark = pytest.mark.kafka


def _heartbeat(store: Store, worker: str, version: str | None, *, age_s: float = 0.0) -> None:
    store.workers.heartbeat(worker, "scorer", {"model_version": version, "fail_safe": version is None, "consumed": 12,
                                       "decided": 10, "dead_lettered": 2, "last_error": None})
    if age_s:
        with store.engine.begin() as conn:
            conn.execute(workers.update().where(workers.c.worker_id == worker)
                         .values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=age_s)))


def _readyz(settings: Settings, store: Store) -> tuple[int, dict[str, Any]]:
    response = TestClient(create_app(settings, store)).get("/readyz")  # a new app: no cached checks
    return response.status_code, response.json()


def _failing(body: dict[str, Any]) -> set[str]:
    return {name for name, check in body["checks"].items() if not check["ok"]}


def test_ready_when_database_broker_and_a_model_in_service_answer(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    settings.kafka_bootstrap = broker.bootstrap
    clients.ensure_topics(broker.bootstrap, 2)
    _heartbeat(store, "scorer-a", "3")
    status, body = _readyz(settings, store)
    assert status == 200 and body["ready"] is True and _failing(body) == set()
    assert "version(s) 3" in body["checks"]["model"]["detail"]


def test_not_ready_without_a_model_in_service(settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    settings.kafka_bootstrap = broker.bootstrap
    clients.ensure_topics(broker.bootstrap, 2)
    status, body = _readyz(settings, store)  # no scorer has reported
    assert status == 503 and _failing(body) == {"model"}
    _heartbeat(store, "scorer-old", "2", age_s=120)  # a scorer that went quiet does not count
    assert _failing(_readyz(settings, store)[1]) == {"model"}
    _heartbeat(store, "scorer-a", "3")
    _heartbeat(store, "scorer-b", None)  # one replica in fail-safe is enough to say not ready
    status, body = _readyz(settings, store)
    assert status == 503 and _failing(body) == {"model"} and "fail-safe" in body["checks"]["model"]["detail"]


def test_not_ready_when_the_broker_is_down_or_lacks_the_topics(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    _heartbeat(store, "scorer-a", "3")
    settings.kafka_bootstrap = broker.bootstrap  # up, but nobody created the contract topics yet
    status, body = _readyz(settings, store)
    assert status == 503 and _failing(body) == {"broker"} and "parcel.manifests" in body["checks"]["broker"]["detail"]
    settings.kafka_bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    status, body = _readyz(settings, store)
    assert status == 503 and _failing(body) == {"broker"} and "unavailable" in body["checks"]["broker"]["detail"]


def test_not_ready_when_the_database_is_unavailable(settings: Settings, tmp_path: Any) -> None:
    settings.kafka_bootstrap = f"127.0.0.1:{free_port()}"
    gone = Store(make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"))
    client = TestClient(create_app(settings, gone))
    response = client.get("/readyz")
    assert response.status_code == 503 and {"database", "model"} <= _failing(response.json())
    assert client.get("/livez").status_code == 200  # alive all the same: restarting it would not help


def test_readiness_checks_are_cached_between_probes() -> None:
    calls: list[int] = []

    def check() -> readiness.Check:
        calls.append(1)
        return readiness.Check(True, "fine")

    def broken() -> readiness.Check:
        raise RuntimeError("boom")

    checks = readiness.Readiness({"a": check, "b": broken}, ttl_s=60)
    for _ in range(3):
        ready, report = checks.report()
    assert len(calls) == 1 and not ready and report["checks"]["b"] == {"ok": False, "detail": "check failed: "
                                                                       "RuntimeError: boom"}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_show_each_live_scorer_and_each_hub_queue(settings: Settings, store: Store) -> None:
    _heartbeat(store, "scorer-a", "3")
    _heartbeat(store, "scorer-b", None)
    _heartbeat(store, "scorer-gone", "1", age_s=600)
    seed(store, [record("Q1"), record("Q2"), record("Q3", hub_id=OTHER_HUB),
                 record("R1", action="RELEASE", score=0.01)])
    assert store.claims.claim("Q2", "screener-1", timedelta(minutes=5))
    response = TestClient(create_app(settings, store)).get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("parcelguard_fleet_scorers_live", ())] == 2
    assert samples[("parcelguard_fleet_model_version", (("version", "3"), ("worker", "scorer-a")))] == 1
    assert samples[("parcelguard_fleet_model_version", (("version", "none"), ("worker", "scorer-b")))] == 1
    assert samples[("parcelguard_fleet_fail_safe", (("worker", "scorer-b"),))] == 1
    assert samples[("parcelguard_fleet_consumed_total", (("worker", "scorer-a"),))] == 12
    assert samples[("parcelguard_fleet_dead_lettered_total", (("worker", "scorer-a"),))] == 2
    assert not any("scorer-gone" in str(labels) for _, labels in samples)
    assert samples[("parcelguard_queue_waiting", (("hub", "HAK-MEILAN"),))] == 1
    assert samples[("parcelguard_queue_held", (("hub", "HAK-MEILAN"),))] == 1
    assert samples[("parcelguard_queue_waiting", (("hub", OTHER_HUB),))] == 1
    assert samples[("parcelguard_flagged_last_hour", (("hub", "HAK-MEILAN"),))] == 2


def _health(settings: Settings, store: Store) -> tuple[int, dict[str, Any]]:
    response = TestClient(create_app(settings, store)).get("/health")  # a new app: no cached checks
    return response.status_code, response.json()


def test_health_tells_the_same_truth_as_readyz_when_the_broker_dies(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    settings.kafka_bootstrap = broker.bootstrap
    clients.ensure_topics(broker.bootstrap, 2)
    _heartbeat(store, "scorer-a", "3")  # a scorer that reported a model in service moments ago
    status, body = _health(settings, store)
    assert (status, body["status"]) == (200, "ok")
    broker.stop()
    status, body = _health(settings, store)
    assert (status, body["status"]) == (503, "degraded")
    assert "broker" in body["message"] and "not ready" in body["message"]
    assert _readyz(settings, store)[0] == 503


def test_health_is_not_ok_when_no_scorer_serves_a_model(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    settings.kafka_bootstrap = broker.bootstrap
    clients.ensure_topics(broker.bootstrap, 2)
    status, body = _health(settings, store)
    assert (status, body["status"]) == (503, "degraded") and "no scorer" in body["message"]
