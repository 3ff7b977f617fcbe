"""The streaming scorer: consume → validate → decide and store → publish → commit, in that order.

Offsets are committed only after every decision of a batch is stored and acknowledged by the broker,
so a crash anywhere replays the batch; the store returns the first decision for a replayed parcel,
so a replay republishes it instead of deciding twice (at-least-once delivery, idempotent effects).
A store or broker failure pauses consumption and retries the same batch with backoff.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from models.manifest import Decision, Manifest
from scoring.engine import Scorer
from scoring.store import Store
from streams import clients, topics
from streams.validate import Rejected, parse_manifest

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


@dataclass
class Counters:
    consumed: int = 0
    decided: int = 0
    dead_lettered: int = 0
    by_action: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class StreamScorer:
    """Runs the scoring loop for one consumer in the group until ``stop()``."""

    def __init__(
        self,
        scorer: Scorer,
        store: Store,
        bootstrap: str,
        group_id: str,
        *,
        max_manifest_bytes: int = 64 * 1024,
        poll_records: int = 1000,
        on_batch: Callable[[list[Decision]], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.store = store
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.max_manifest_bytes = max_manifest_bytes
        self.poll_records = poll_records
        self.on_batch = on_batch
        self.worker_id = f"scorer-{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.counters = Counters()
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._last_heartbeat = 0.0

    # Clients are created on first use, never in the constructor.
    @property
    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = clients.consumer(
                self.bootstrap, self.group_id, topics.MANIFESTS, max_poll_records=self.poll_records
            )
        return self._consumer

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = clients.producer(self.bootstrap)
        return self._producer

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self.scorer.refresh_model(force=True)
        try:
            while not self._stop.is_set():
                polled = self.consumer.poll(timeout_ms=200, max_records=self.poll_records)
                if polled:
                    self._handle_with_retry(polled)
                self.scorer.refresh_model()
                self._heartbeat()
        finally:
            self.close()

    def close(self) -> None:
        self._heartbeat(force=True)
        if self._producer is not None:
            self._producer.flush()
            self._producer.close()
        if self._consumer is not None:
            self._consumer.close(autocommit=False)

    def _handle_with_retry(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        backoff = 0.5
        while True:
            try:
                self.handle(polled)
                return
            except Exception as exc:
                if self._stop.is_set():
                    raise
                log.error("batch failed; pausing consumption and retrying",
                          extra={"error": f"{type(exc).__name__}: {exc}", "backoff_s": backoff})
                self._heartbeat(force=True, error=f"{type(exc).__name__}: {exc}")
                self._pause_for(backoff, list(polled))
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _pause_for(self, seconds: float, partitions: list[TopicPartition]) -> None:
        """Wait without losing group membership: poll with every partition paused."""
        assigned = [tp for tp in partitions if tp in self.consumer.assignment()]
        self.consumer.pause(*assigned)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            self.consumer.poll(timeout_ms=100)
        self.consumer.resume(*[tp for tp in assigned if tp in self.consumer.assignment()])

    def handle(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One batch, in the order that makes a crash at any line safe."""
        records = [record for batch in polled.values() for record in batch]
        valid: list[tuple[Manifest, dict[str, Any]]] = []
        rejected: list[tuple[ConsumerRecord, str]] = []
        for record in records:
            parsed = parse_manifest(record.value, self.max_manifest_bytes)
            if isinstance(parsed, Rejected):
                rejected.append((record, parsed.reason))
            else:
                valid.append(parsed)

        # 1. Decide and store (idempotent: parcels already decided come back unchanged).
        decisions = self.scorer.process(valid) if valid else []

        # 2. Publish decisions and dead letters, and wait for the broker to acknowledge them.
        for decision in decisions:
            self.producer.send(topics.DECISIONS, key=decision.parcel_id.encode(),
                               value=decision.model_dump_json().encode())
        for record, reason in rejected:
            self.producer.send(topics.MANIFESTS_DLQ, key=record.key, value=record.value or b"", headers=[
                ("reason", reason.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ])
            log.warning("manifest dead-lettered", extra={
                "reason": reason, "partition": record.partition, "offset": record.offset})
        self.producer.flush()

        # 3. Commit the next offset of every partition in the batch.
        offsets = {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items() if batch}
        self.consumer.commit(offsets)

        self.counters.consumed += len(records)
        self.counters.decided += len(decisions)
        self.counters.dead_lettered += len(rejected)
        for decision in decisions:
            self.counters.by_action[f"{decision.action}:{decision.why}"] += 1
        if self.on_batch is not None:
            self.on_batch(decisions)

    def _heartbeat(self, force: bool = False, error: str | None = None) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < 2.0:
            return
        self._last_heartbeat = now
        model = self.scorer.models.current
        try:
            self.store.heartbeat(self.worker_id, "scorer", {
                "model_version": model.version if model else None,
                "fail_safe": model is None,
                "consumed": self.counters.consumed,
                "decided": self.counters.decided,
                "dead_lettered": self.counters.dead_lettered,
                "last_error": error or self.scorer.models.last_error,
            })
        except Exception as exc:  # status reporting must never stop scoring; say so and go on
            log.warning("could not write scorer heartbeat", extra={"error": str(exc)})
