"""Prometheus metrics of one scorer process, and the small HTTP server that serves them beside its readiness.

Counts move when a batch is committed (``StreamScorer``'s ``on_committed`` hook), so a batch retried after a
failure, or dropped after a rebalance and replayed by another scorer, is counted once, by whoever
commits it. Consumer lag is what this scorer has consumed against what was produced to the partitions
it owns: the high-water mark from the broker's fetch responses minus the next offset to commit. The
broker's reported end offsets are not used: the embedded broker reports roughly the start of the last
batch there (docs/broker-notes.md, defect 3), while fetch responses carry the true high-water mark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import orjson
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from models.manifest import Decision
from streams.validate import Rejected

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from streams.scorer import StreamScorer

log = logging.getLogger(__name__)

# Decisions must reach the sorter within seconds, at most a couple of minutes.
# A batch failing or stuck this long (an outage, a frozen database) makes the scorer not ready.
STALL_LIMIT_S = 60.0
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
Readiness = Callable[[], tuple[bool, dict[str, Any]]]


class ScorerMetrics:
    """Every metric a scorer exposes, in a registry of its own (so tests and processes never share counts)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.consumed = Counter("parcelguard_manifests_consumed", "Manifest records consumed and committed",
                                registry=r)
        self.decisions = Counter("parcelguard_decisions", "Decisions published, by action and the reason (why)",
                                 ["action", "reason"], registry=r)
        self.dead_letters = Counter("parcelguard_dead_letters", "Manifests sent to the dead-letter topic, by code",
                                    ["code"], registry=r)
        self.lag = Gauge("parcelguard_consumer_lag", "Records produced to a partition this scorer owns, not yet "
                         "consumed (fetch high-water mark minus the next offset to commit)", ["topic", "partition"],
                         registry=r)
        self.latency = Histogram("parcelguard_decision_latency_seconds", "From a manifest's arrival on Kafka (record "
                                 "timestamp) to its decision published and the offset committed",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self._next_offsets: dict[TopicPartition, int] = {}
        self._stream: StreamScorer | None = None

    def attach(self, stream: StreamScorer) -> None:
        """Report ``stream``'s model, partitions and retries when scraped, and its lag after each committed batch.

        The stream counts into these metrics when it was built with ``on_committed=metrics.committed``.
        """
        self._stream = stream
        self.registry.register(_StreamState(stream))

    def committed(self, polled: dict[TopicPartition, list[ConsumerRecord]], decisions: list[Decision],
                  rejected: list[tuple[ConsumerRecord, Rejected]]) -> None:
        """A ``StreamScorer``'s ``on_committed`` hook: count the batch and update the lag of the attached stream."""
        self.observe(polled, decisions, rejected)
        if self._stream is not None:
            self.update_lag(self._stream.consumer.assignment(), self._stream.consumer.highwater)

    def observe(self, polled: dict[TopicPartition, list[ConsumerRecord]], decisions: Iterable[Decision],
                rejected: Iterable[tuple[ConsumerRecord, Rejected]], now: float | None = None) -> None:
        """One committed batch: its records, the decisions published for them and the ones dead-lettered."""
        now = time.time() if now is None else now
        records = 0
        for tp, batch in polled.items():
            if not batch:
                continue
            records += len(batch)
            self._next_offsets[tp] = batch[-1].offset + 1
            for record in batch:
                # A producer's clock may run ahead of ours: a negative latency is noise, not a result.
                self.latency.observe(max(0.0, now - record.timestamp / 1000.0))
        self.consumed.inc(records)
        for (action, why), n in Tally((d.action, d.why) for d in decisions).items():
            self.decisions.labels(action, why).inc(n)
        for code, n in Tally(rejection.code for _, rejection in rejected).items():
            self.dead_letters.labels(code).inc(n)

    def update_lag(self, assigned: Iterable[TopicPartition], highwater: Callable[[TopicPartition], int | None]) -> None:
        """Lag of each owned partition seen so far; partitions handed to another scorer stop being reported."""
        owned = set(assigned)
        for tp in [tp for tp in self._next_offsets if tp not in owned]:
            del self._next_offsets[tp]
            self.lag.remove(tp.topic, str(tp.partition))
        for tp, next_offset in self._next_offsets.items():
            end = highwater(tp)
            if end is not None:
                self.lag.labels(tp.topic, str(tp.partition)).set(max(0, end - next_offset))


class _StreamState(Collector):
    """Read at scrape time from the running scorer: the model in service, partitions owned, retries."""

    def __init__(self, stream: StreamScorer) -> None:
        self.stream = stream

    def collect(self) -> Iterator[Any]:
        models = self.stream.scorer.models
        model = models.current  # one attribute read: safe beside the scoring thread
        info = GaugeMetricFamily("parcelguard_model_in_service", "1 for the model deciding now (version \"none\" in "
                                 "fail-safe)", labels=["model", "version"])
        info.add_metric([model.name if model else models.name, model.version if model else "none"], 1)
        yield info
        yield GaugeMetricFamily("parcelguard_fail_safe", "1 while no model is loaded: every in-scope parcel is "
                                "screened", value=0 if model else 1)
        yield GaugeMetricFamily("parcelguard_partitions_assigned", "Partitions of parcel.manifests this scorer owns",
                                value=len(self.stream._assigned))
        counters = self.stream.counters
        yield CounterMetricFamily("parcelguard_batch_retries", "Batches retried after a store or broker failure",
                                  value=counters.retries)
        yield CounterMetricFamily("parcelguard_dropped_after_rebalance", "Records whose commit a rebalance refused "
                                  "(their new owner replays them)", value=counters.dropped_after_rebalance)


class _QuietHandler(WSGIRequestHandler):
    """No access log: stderr carries only the JSON logs."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_app(registry: CollectorRegistry, readiness: Readiness | None = None) -> Callable[..., Iterable[bytes]]:
    """WSGI app: ``/metrics`` (Prometheus), ``/livez``, and ``/readyz`` (503 with the failing checks)."""
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/livez":
            return _json(start_response, 200, {"status": "alive"})
        if path == "/readyz":
            if readiness is None:
                return _json(start_response, 200, {"ready": True, "checks": {}})
            ready, report = readiness()
            return _json(start_response, 200 if ready else 503, report)
        if path in ("/metrics", "/"):
            return metrics(environ, start_response)
        return _json(start_response, 404, {"detail": f"no such path {path}; try /metrics, /livez or /readyz"})

    return app


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    payload = orjson.dumps(body)
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class MetricsServer:
    """Serves ``make_app`` on a daemon thread until ``stop()``."""

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1",
                 readiness: Readiness | None = None) -> None:
        self._server = make_server(host, port, make_app(registry, readiness), ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics and readiness served", extra={"port": self.port, "paths": ["/metrics", "/livez", "/readyz"]})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_scorer(stream: StreamScorer, metrics: ScorerMetrics, host: str, port: int) -> MetricsServer:
    """Metrics and readiness for a ``parcelguard score`` process: ready with store, broker, a model, and no
    batch failing or stuck for over STALL_LIMIT_S.

    ``stream`` was built with ``on_committed=metrics.committed``.
    """
    from prometheus_client import disable_created_metrics

    from scoring import readiness

    disable_created_metrics()  # the *_created series only double the output of a long-running process
    metrics.attach(stream)
    checks = readiness.Readiness({
        "database": lambda: readiness.database(stream.store.engine),
        "broker": lambda: readiness.broker(stream.bootstrap),
        "model": lambda: readiness.model_loaded(stream.scorer.models),
        "progress": lambda: readiness.progress(stream.stalled_for(), stream.last_failure, STALL_LIMIT_S),
    })
    return MetricsServer(metrics.registry, port, host, checks.report).start()
