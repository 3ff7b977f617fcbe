"""The streaming scorer: consume → validate → decide → store → publish → commit, in that order per batch.

Offsets are committed only after every decision of a batch is stored and acknowledged by the broker,
so a crash anywhere replays the batch; the store returns the first decision for a replayed parcel,
so a replay republishes it instead of deciding twice (at-least-once delivery, idempotent effects).
A store or broker failure pauses consumption and retries the failed step of the same batch with
backoff; a commit refused because the group rebalanced drops the batch, whose new owner replays it.

Two batches overlap: while a writer thread stores and publishes batch N, this thread polls and
decides batch N+1 (``Scorer.prepare`` knows N is in flight). N is committed before N+1 is handed
to the writer, so commits stay in order and never run ahead of what is stored and published. The
writer's wait on SQLite and on the broker's acknowledgements is time the decisions go on in.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, IllegalStateError, KafkaTimeoutError, RebalanceInProgressError
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import OffsetAndMetadata

from models.manifest import Decision
from parcelguard.errors import ParcelGuardError
from scoring.engine import Prepared, Scorer
from scoring.store import Store
from streams import clients, topics
from streams.validate import Rejected, parse_manifest

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0
FLUSH_TIMEOUT_S = 30.0
Polled = dict[TopicPartition, list[ConsumerRecord]]


class PublishError(ParcelGuardError):
    """The broker did not acknowledge every decision or dead letter of a batch."""


@dataclass
class Counters:
    consumed: int = 0
    decided: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    dropped_after_rebalance: int = 0
    by_action: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_rejection: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # time per step of the loop


@dataclass
class _Batch:
    """One poll's records and how far they got; a retry resumes at the first step not done."""

    polled: Polled
    prepared: Prepared | None = None
    decisions: list[Decision] | None = None  # once stored
    rejected: list[tuple[ConsumerRecord, Rejected]] = field(default_factory=list)
    published: bool = False
    writing: Future[None] | None = None  # the writer thread's store-and-publish of this batch


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
        # Told of every committed batch: records, decisions, rejections (streams/metrics.py listens here).
        self.on_committed: Callable[[Polled, list[Decision], list[tuple[ConsumerRecord, Rejected]]], None] | None = None
        self.worker_id = f"scorer-{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.counters = Counters()
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._last_heartbeat = 0.0
        self._last_progress = time.monotonic()
        self._assigned: frozenset[TopicPartition] = frozenset()
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: _Batch | None = None

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

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        self.scorer.refresh_model(force=True)
        self.scorer.models.start_background()  # registry look-ups never stall a batch
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-publish")
        try:
            while not self._stop.is_set():
                clock = time.perf_counter()
                polled = self.consumer.poll(timeout_ms=200, max_records=self.poll_records)
                self._timed("poll", clock)
                self._track_assignment()
                if polled:
                    batch = _Batch(polled)
                    self._retrying(self._prepare, batch)
                    self._finish_in_flight()
                    self._in_flight = batch
                    self._await_write(batch, wait=False)
                else:
                    self._finish_in_flight()  # idle: commit what is done rather than hold it
                self.scorer.refresh_model()
                self._heartbeat()
            self._finish_in_flight()
        finally:
            self.scorer.models.stop_background()
            self._writer.shutdown(wait=True)
            self.close()

    def _track_assignment(self) -> None:
        """Hub capacities are shared out by partitions: each scorer owns its share of every hub's traffic."""
        assigned = frozenset(self.consumer.assignment())
        if assigned == self._assigned:
            return
        self._assigned = assigned
        total = len(self.consumer.partitions_for_topic(topics.MANIFESTS) or ())
        if assigned and total:
            self.scorer.policy.set_capacity_fraction(len(assigned) / total)
        log.info("partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned), "of": total})

    def close(self) -> None:
        self._heartbeat(force=True)
        if self._producer is not None:
            self._producer.flush(FLUSH_TIMEOUT_S)
            self._producer.close(FLUSH_TIMEOUT_S)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)

    def handle(self, polled: Polled) -> None:
        """Process one poll's records to the end (used by tests and tools that drive the loop themselves)."""
        batch = _Batch(polled)
        self._prepare(batch)
        self._write(batch)
        self._commit_and_count(batch)

    def _retrying(self, step: Callable[[_Batch], None], batch: _Batch) -> None:
        """Run ``step`` until it succeeds, pausing consumption with backoff between tries."""
        backoff = 0.5
        while True:
            try:
                step(batch)
                return
            except Exception as exc:
                if self._stop.is_set():
                    raise
                self._failed(exc, batch, backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _failed(self, exc: Exception, batch: _Batch, backoff: float) -> None:
        error = f"{type(exc).__name__}: {exc}"
        self.counters.retries += 1
        log.error("batch failed; pausing consumption and retrying",
                  extra={"error": error, "backoff_s": backoff, "records": _count(batch.polled)})
        self._heartbeat(force=True, error=error)
        self._pause_for(backoff)

    def _finish_in_flight(self) -> None:
        """Wait for the batch the writer holds (retrying it while it fails), then commit it."""
        batch = self._in_flight
        if batch is None:
            return
        clock = time.perf_counter()
        self._retrying(self._await_write, batch)
        self._in_flight = None
        self._timed("wait_writer", clock)
        self._retrying(self._commit_and_count, batch)  # a broker that is down pauses here, as a failed write does

    def _await_write(self, batch: _Batch, wait: bool = True) -> None:
        """Hand the batch to the writer thread (again, if its last try failed); with ``wait``, until it is done."""
        if batch.writing is None:
            assert self._writer is not None
            batch.writing = self._writer.submit(self._write, batch)
        if wait:
            try:
                batch.writing.result()
            except Exception:
                batch.writing = None  # the next try resubmits; _write resumes at the first step not done
                raise

    def _prepare(self, batch: _Batch) -> None:
        """Validate, then decide in memory (parcels already decided come back unchanged)."""
        clock = time.perf_counter()
        valid = []
        batch.rejected = []
        for record in (r for records in batch.polled.values() for r in records):
            parsed = parse_manifest(record.value, self.max_manifest_bytes)
            if isinstance(parsed, Rejected):
                batch.rejected.append((record, parsed))
            else:
                valid.append(parsed)
        clock = self._timed("validate", clock)
        after = self._in_flight.prepared if self._in_flight is not None else None
        batch.prepared = self.scorer.prepare(valid, after)
        self._timed("decide", clock)

    def _write(self, batch: _Batch) -> None:
        """Store, then publish decisions and dead letters; a retry resumes at the first step not done."""
        assert batch.prepared is not None
        clock = time.perf_counter()
        if batch.decisions is None:
            batch.decisions = self.scorer.record(batch.prepared)
            clock = self._timed("store", clock)
        if not batch.published:
            self._publish(batch.decisions, batch.rejected)
            batch.published = True
            self._timed("publish", clock)

    def _commit_and_count(self, batch: _Batch) -> None:
        clock = time.perf_counter()
        committed = self._commit(batch.polled)
        self._timed("commit", clock)
        if committed:
            self._count(batch)

    def _timed(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.counters.seconds[step] += now - since
        return now

    def _publish(self, decisions: list[Decision], rejected: list[tuple[ConsumerRecord, Rejected]]) -> None:
        futures: list[FutureRecordMetadata] = []
        sent: set[str] = set()
        for decision in decisions:
            if decision.parcel_id in sent:  # the same parcel twice in one batch: one decision, published once
                continue
            sent.add(decision.parcel_id)
            futures.append(self.producer.send(topics.DECISIONS, key=decision.parcel_id.encode(),
                                              value=decision.model_dump_json().encode()))
        for record, rejection in rejected:
            futures.append(self.producer.send(topics.MANIFESTS_DLQ, key=record.key, value=record.value or b"", headers=[
                ("reason", rejection.reason.encode()),
                ("reason_code", rejection.code.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ]))
            log.warning("manifest dead-lettered", extra={
                "reason": rejection.reason, "code": rejection.code, "partition": record.partition,
                "offset": record.offset})
        try:
            self.producer.flush(FLUSH_TIMEOUT_S)
        except KafkaTimeoutError as exc:
            self._replace_producer()
            raise PublishError(f"{len(futures)} records not acknowledged within {FLUSH_TIMEOUT_S:.0f}s") from exc
        # flush() returns even when sends failed; each future says whether its record was written.
        failed = [f for f in futures if not f.is_done or f.failed()]
        if failed:
            self._replace_producer()
            first = failed[0].exception if failed[0].is_done else "not acknowledged"
            raise PublishError(f"{len(failed)} of {len(futures)} records not acknowledged: {first!r}")

    def _replace_producer(self) -> None:
        """A failed send may have left the producer in a fatal state (an idempotent producer whose broker
        lost its sequence state never recovers: Tansu after a restart): the retry gets a fresh one."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception as exc:
                log.warning("could not close the failed producer", extra={"error": f"{type(exc).__name__}: {exc}"})
            self._producer = None

    def _commit(self, polled: Polled) -> bool:
        """Commit offset+1 per partition; False when the group took the partitions away meanwhile."""
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in polled.items() if records}
        try:
            self.consumer.commit(offsets)
            return True
        except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
            # The group rebalanced (or is rebalancing: a commit that follows the next batch's poll can
            # land in the middle of one): the partitions' new owner replays from the last commit and gets the
            # stored decisions back, so dropping this commit loses nothing and decides nothing twice.
            self.counters.dropped_after_rebalance += _count(polled)
            log.warning("commit refused after a rebalance; the new owner replays the batch",
                        extra={"error": f"{type(exc).__name__}: {exc}", "records": _count(polled)})
            return False

    def _count(self, batch: _Batch) -> None:
        decisions = batch.decisions or []
        self.counters.batches += 1
        self.counters.consumed += _count(batch.polled)
        self.counters.decided += len(decisions)
        self.counters.dead_lettered += len(batch.rejected)
        for decision in decisions:
            self.counters.by_action[f"{decision.action}:{decision.why}"] += 1
        for _, rejection in batch.rejected:
            self.counters.by_rejection[rejection.code] += 1
        if self.on_batch is not None:
            self.on_batch(decisions)
        if self.on_committed is not None:
            self.on_committed(batch.polled, decisions, batch.rejected)

    def _pause_for(self, seconds: float) -> None:
        """Wait without losing group membership: poll with every assigned partition paused.

        A rebalance during the wait can hand over new, unpaused partitions; anything polled from
        them is rewound, so the wait never consumes (and so never skips) a record.
        """
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and not self._stop.is_set():
                self.consumer.pause(*self.consumer.assignment())
                for tp, records in self.consumer.poll(timeout_ms=100).items():
                    if records:
                        self.consumer.seek(tp, records[0].offset)
        except Exception as exc:  # the broker may be the thing that is down; the retry will tell
            log.warning("could not poll while paused", extra={"error": f"{type(exc).__name__}: {exc}"})
            time.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            try:
                self.consumer.resume(*self.consumer.paused())
            except Exception as exc:
                log.warning("could not resume partitions", extra={"error": f"{type(exc).__name__}: {exc}"})

    def _heartbeat(self, force: bool = False, error: str | None = None) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < 2.0:
            return
        self._last_heartbeat = now
        if now - self._last_progress >= 30.0:
            self._last_progress = now
            log.info("scorer progress", extra={
                "consumed": self.counters.consumed, "decided": self.counters.decided, "batches": self.counters.batches,
                "seconds": {k: round(v, 2) for k, v in self.counters.seconds.items()}})
        model = self.scorer.models.current
        try:
            self.store.heartbeat(self.worker_id, "scorer", {
                "model_version": model.version if model else None,
                "fail_safe": model is None,
                "consumed": self.counters.consumed,
                "decided": self.counters.decided,
                "dead_lettered": self.counters.dead_lettered,
                "last_error": error or self.scorer.last_error,
            })
        except Exception as exc:  # status reporting must never stop scoring; say so and go on
            log.warning("could not write scorer heartbeat", extra={"error": str(exc)})


def _count(polled: Polled) -> int:
    return sum(len(records) for records in polled.values())
