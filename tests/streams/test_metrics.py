"""A scorer's Prometheus metrics and readiness, served over HTTP, against what it really consumed and published."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from models import topics
from parcelguard.config import Settings
from scoring import readiness
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.metrics import MetricsServer, ScorerMetrics
from streams.produce import publish
from streams.scorer import StreamScorer
from tests.factories import manifest
from tests.kafka_helpers import read_topic
from tests.streams.support import wait_until

pytestmark = pytest.mark.kafka
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _samples(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _stream(settings: Settings, store: Store, bootstrap: str, **options: Any) -> StreamScorer:
    scorer = Scorer(settings, store, ModelSource.fixed(None))  # no model: fail-safe screens in-scope parcels
    return StreamScorer(scorer, store, bootstrap, f"metrics-{uuid.uuid4().hex[:8]}", **options)


def test_metrics_count_what_the_scorer_consumed_decided_and_dead_lettered(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    clients.ensure_topics(broker.bootstrap, 2)
    in_scope = [manifest(parcel_id=f"IN{i:03d}") for i in range(30)]
    out_of_scope = [manifest(parcel_id=f"OUT{i:03d}", origin__province="Zhejiang", origin__city="Hangzhou")
                    for i in range(20)]
    poison = [b"{not json", orjson.dumps({"schema_version": 1, "parcel_id": "NOHUB"}),
              orjson.dumps({"schema_version": 9})]
    metrics = ScorerMetrics()
    stream = _stream(settings, store, broker.bootstrap, on_committed=metrics.committed)
    metrics.attach(stream)
    checks = readiness.Readiness({"database": lambda: readiness.database(store.engine),
                                  "broker": lambda: readiness.broker(broker.bootstrap),
                                  "model": lambda: readiness.model_loaded(stream.scorer.models)})
    server = MetricsServer(metrics.registry, 0, readiness=checks.report).start()
    worker = threading.Thread(target=stream.run)
    worker.start()
    try:
        publish(broker.bootstrap, [*in_scope[:10], *poison, *in_scope[10:], *out_of_scope])
        wait_until(lambda: stream.counters.consumed >= 53, 60, "every record consumed")
        status, body = _get(server.port, "/metrics")
        ready_status, ready = _get(server.port, "/readyz")
        live_status, _ = _get(server.port, "/livez")
    finally:
        stream.stop()
        worker.join(30)
        server.stop()

    assert status == 200
    samples = _samples(body.decode())
    published = Counter((d["action"], d["why"]) for d in
                        (orjson.loads(r.value) for r in read_topic(broker.bootstrap, topics.DECISIONS, 50)))
    assert published == {("SCREEN", "fail_safe"): 30, ("RELEASE", "out_of_scope"): 20}
    for (action, why), n in published.items():
        assert samples[("parcelguard_decisions_total", (("action", action), ("reason", why)))] == n
    assert samples[("parcelguard_manifests_consumed_total", ())] == 53
    assert samples[("parcelguard_dead_letters_total", (("code", "invalid_json"),))] == 1
    assert samples[("parcelguard_dead_letters_total", (("code", "missing_field"),))] == 1
    assert samples[("parcelguard_dead_letters_total", (("code", "unknown_schema_version"),))] == 1
    assert samples[("parcelguard_decision_latency_seconds_count", ())] == 53
    assert samples[("parcelguard_decision_latency_seconds_sum", ())] > 0
    lags = {labels: v for (name, labels), v in samples.items() if name == "parcelguard_consumer_lag"}
    assert lags and set(lags.values()) == {0}  # everything produced was consumed
    assert samples[("parcelguard_model_in_service", (("model", "local"), ("version", "none")))] == 1
    assert samples[("parcelguard_fail_safe", ())] == 1
    assert samples[("parcelguard_partitions_assigned", ())] == 2

    assert live_status == 200
    report = orjson.loads(ready)
    assert ready_status == 503 and report["checks"]["database"]["ok"] and report["checks"]["broker"]["ok"]
    assert not report["checks"]["model"]["ok"] and "fail-safe" in report["checks"]["model"]["detail"]


def test_consumer_lag_is_what_was_produced_minus_what_was_consumed(
        settings: Settings, store: Store, broker: EmbeddedBroker) -> None:
    """On the embedded broker the reported end offsets are wrong (docs/broker-notes.md, defect 3); the lag is exact."""
    clients.ensure_topics(broker.bootstrap, 1)
    produced = 300
    publish(broker.bootstrap, [orjson.dumps(manifest(parcel_id=f"L{i:04d}")) for i in range(produced)])
    metrics = ScorerMetrics()
    stream = _stream(settings, store, broker.bootstrap, poll_records=100, on_committed=metrics.committed)
    metrics.attach(stream)
    try:
        polled: dict[TopicPartition, list[Any]] = {}
        wait_until(lambda: bool(polled.update(stream.consumer.poll(timeout_ms=500, max_records=100)) or polled),
                   60, "a first batch")
        stream.handle(polled)
        consumed = sum(len(records) for records in polled.values())
        lag = metrics.registry.get_sample_value("parcelguard_consumer_lag",
                                                {"topic": topics.MANIFESTS, "partition": "0"})
    finally:
        stream.close()
    assert 0 < consumed < produced
    assert lag == produced - consumed


def test_lag_of_a_partition_handed_to_another_scorer_is_no_longer_reported() -> None:
    metrics = ScorerMetrics()
    mine, theirs = TopicPartition(topics.MANIFESTS, 0), TopicPartition(topics.MANIFESTS, 1)
    record = SimpleNamespace(offset=9, timestamp=0)
    metrics.observe({mine: [record], theirs: [record]}, [], [])
    metrics.update_lag({mine, theirs}, lambda tp: 25)
    assert metrics.registry.get_sample_value("parcelguard_consumer_lag", {"topic": topics.MANIFESTS,
                                                                          "partition": "1"}) == 15
    metrics.update_lag({mine}, lambda tp: 30)
    assert metrics.registry.get_sample_value("parcelguard_consumer_lag", {"topic": topics.MANIFESTS,
                                                                          "partition": "1"}) is None
    assert metrics.registry.get_sample_value("parcelguard_consumer_lag", {"topic": topics.MANIFESTS,
                                                                          "partition": "0"}) == 20


def test_a_scorer_with_a_model_is_ready_on_that_count() -> None:
    source = ModelSource.fixed(SimpleNamespace(name="parcelguard-risk", version="7"))  # type: ignore[arg-type]
    check = readiness.model_loaded(source)
    assert check.ok and "version 7" in check.detail


def test_the_production_guide_lists_every_metric(store: Store) -> None:
    from scoring.api.metrics import api_registry
    from streams.scorer import Counters

    stream = SimpleNamespace(scorer=SimpleNamespace(models=ModelSource.fixed(None)), counters=Counters(),
                             _assigned=frozenset(), on_committed=None)
    metrics = ScorerMetrics()
    metrics.attach(stream)  # type: ignore[arg-type]
    metrics.observe({TopicPartition(topics.MANIFESTS, 0): [SimpleNamespace(offset=0, timestamp=0)]}, [], [])
    names = {s.name.removesuffix("_bucket") for registry in (metrics.registry, api_registry(store))
             for family in registry.collect() for s in family.samples}
    names = {n for n in names if not n.endswith(("_created", "_count", "_sum"))}
    guide = (Path(__file__).resolve().parents[2] / "docs" / "production.md").read_text()
    assert {n for n in names if f"`{n}`" not in guide} == set()
