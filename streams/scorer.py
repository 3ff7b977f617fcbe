"""The streaming scorer: consume → validate → decide and store → publish → commit, in that order.

Offsets are committed only after every decision of a batch is stored and acknowledged by the broker,
so a crash anywhere replays the batch; the store returns the first decision for a replayed parcel,
so a replay republishes it instead of deciding twice (at-least-once delivery, idempotent effects).
A store or broker outage pauses consumption and retries the failed step of the same batch with
backoff; a commit refused because the group rebalanced drops the batch, whose new owner replays it.

Poison never stops the line (``streams.poison``): a batch that fails for any other reason is tried
again, then split record by record; a record that still fails after a few tries is dead-lettered with
its reason and the rest of its batch is decided. A parcel id already decided for another hub is
dead-lettered too (``parcel_id_conflict``): the first hub's decision is never handed to a second hub.
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
from kafka.errors import CommitFailedError, IllegalStateError, KafkaTimeoutError, RebalanceInProgressError
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import OffsetAndMetadata

from models import topics
from models.manifest import Decision, Manifest
from parcelguard.errors import ParcelGuardError
from scoring.engine import Scorer
from scoring.hubs import RegistryCache
from scoring.store import Store
from streams import clients, deadletter, poison
from streams.validate import PARCEL_ID_CONFLICT, REFUSED, Rejected, parse_manifests, registered

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0
FLUSH_TIMEOUT_S = 30.0
Polled = dict[TopicPartition, list[ConsumerRecord]]
Valid = tuple[ConsumerRecord, tuple[Manifest, dict[str, Any]]]


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
    valid: list[Valid] | None = None
    decisions: list[Decision] | None = None
    rejected: list[tuple[ConsumerRecord, Rejected]] = field(default_factory=list)
    published: bool = False
    # Poison hunt: once the batch as a whole has failed BATCH_TRIES times, records are decided one by one.
    failures: int = 0
    one_by_one: bool = False
    done: dict[int, Decision] = field(default_factory=dict)  # index in ``valid`` -> its decision
    tries: dict[int, int] = field(default_factory=lambda: defaultdict(int))


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
        on_committed: Callable[[Polled, list[Decision], list[tuple[ConsumerRecord, Rejected]]], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.store = store
        self.hubs = RegistryCache(store)  # manifests from hubs the registry does not list are dead-lettered
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.max_manifest_bytes = max_manifest_bytes
        self.poll_records = poll_records
        self.on_batch = on_batch
        # Told of every committed batch: records, decisions, rejections (``ScorerMetrics.committed`` listens here).
        self.on_committed = on_committed
        self.worker_id = f"scorer-{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.counters = Counters()
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._last_heartbeat = 0.0
        self._last_progress = time.monotonic()
        self._busy_since: float | None = None  # when the batch in hand was polled; None between batches
        self.last_failure: str | None = None
        self._assigned: frozenset[TopicPartition] = frozenset()

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
        try:
            while not self._stop.is_set():
                clock = time.perf_counter()
                polled = self.consumer.poll(timeout_ms=200, max_records=self.poll_records)
                self._timed("poll", clock)
                self._track_assignment()
                if polled:
                    self._handle_with_retry(_Batch(polled))
                self.scorer.refresh_model()
                self._heartbeat()
        finally:
            self.scorer.models.stop_background()
            self.close()

    def _track_assignment(self) -> None:
        """Hub capacities are shared out by partitions: each scorer owns its share of every hub's traffic."""
        assigned = frozenset(self.consumer.assignment())
        if assigned == self._assigned:
            return
        self._assigned = assigned
        total = len(self.consumer.partitions_for_topic(topics.MANIFESTS) or ())
        if assigned and total:
            self.scorer.set_capacity_fraction(len(assigned) / total)
        log.info("partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned), "of": total})

    def close(self) -> None:
        self._heartbeat(force=True, progress=True)  # the last progress line covers the whole run (the bench reads it)
        if self._producer is not None:
            self._producer.flush(FLUSH_TIMEOUT_S)
            self._producer.close(FLUSH_TIMEOUT_S)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)

    def handle(self, polled: Polled) -> None:
        """Process one poll's records to the end (used by tests and tools that drive the loop themselves)."""
        self._step(_Batch(polled))

    def stalled_for(self) -> float:
        """Seconds the batch in hand has been failing or stuck (0 between batches): readiness reads it."""
        return 0.0 if self._busy_since is None else time.monotonic() - self._busy_since

    def _handle_with_retry(self, batch: _Batch) -> None:
        backoff = 0.5
        self._busy_since = time.monotonic()
        while True:
            try:
                self._step(batch)
                self._busy_since = None
                self.last_failure = None
                return
            except Exception as exc:
                if self._stop.is_set():
                    # Asked to stop while the batch was failing (a poison hunt, an outage): it stays uncommitted, so
                    # the partitions' next owner replays it; stopping is not an error of the run.
                    log.warning("stopped with a batch unfinished; it will be replayed",
                                extra={"error": poison.describe(exc), "records": _count(batch.polled)})
                    self._busy_since = None
                    return
                error = poison.describe(exc)
                self.last_failure = error
                self.counters.retries += 1
                if not poison.is_outage(exc) and batch.decisions is None:
                    batch.failures += 1
                    if batch.failures >= poison.BATCH_TRIES and not batch.one_by_one:
                        # Not an outage and not going away: some record in the batch is poison. Find it.
                        log.warning("batch keeps failing; deciding it record by record to isolate the poison",
                                    extra={"error": error, "records": _count(batch.polled)})
                        batch.one_by_one = True
                        continue
                log.error("batch failed; pausing consumption and retrying",
                          extra={"error": error, "backoff_s": backoff, "records": _count(batch.polled)})
                self._heartbeat(force=True, error=error)
                self._pause_for(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _step(self, batch: _Batch) -> None:
        """One batch, in the order that makes a crash or a failure at any line safe."""
        # 1. Validate, then decide and store (idempotent: parcels already decided come back unchanged).
        clock = time.perf_counter()
        if batch.valid is None:
            batch.valid, batch.rejected = [], []
            records = [r for records in batch.polled.values() for r in records]
            for record, parsed in zip(records, parse_manifests([r.value for r in records], self.max_manifest_bytes),
                                      strict=True):
                parsed = registered(parsed, self.hubs.accepts)
                if isinstance(parsed, Rejected):
                    batch.rejected.append((record, parsed))
                else:
                    batch.valid.append((record, parsed))
            clock = self._timed("validate", clock)
        if batch.decisions is None:
            decided = self._decide_one_by_one(batch) if batch.one_by_one else self._decide_all(batch.valid)
            batch.decisions = self._hub_checked(decided, batch.rejected)
            clock = self._timed("decide_store", clock)

        # 2. Publish decisions and dead letters, and wait until the broker has acknowledged every one.
        if not batch.published:
            self._publish(batch.decisions, batch.rejected)
            batch.published = True
            clock = self._timed("publish", clock)

        # 3. Commit the next offset of every partition in the batch.
        committed = self._commit(batch.polled)
        self._timed("commit", clock)
        if committed:
            self._count(batch)

    def _decide_all(self, valid: list[Valid]) -> list[tuple[Valid, Decision]]:
        decisions = self.scorer.process([parsed for _, parsed in valid]) if valid else []
        return list(zip(valid, decisions, strict=True))

    def _decide_one_by_one(self, batch: _Batch) -> list[tuple[Valid, Decision]]:
        """Each record decided and stored alone; one that fails RECORD_TRIES times, not for an outage, is
        dead-lettered. An outage propagates (the retry resumes here, keeping the records already done)."""
        assert batch.valid is not None
        for i, item in enumerate(batch.valid):
            while i not in batch.done and batch.tries[i] < poison.RECORD_TRIES:
                try:
                    batch.done[i] = self.scorer.process([item[1]])[0]
                except Exception as exc:
                    if poison.is_outage(exc) or self._stop.is_set():
                        raise
                    batch.tries[i] += 1
                    if batch.tries[i] >= poison.RECORD_TRIES:
                        reason = f"could not be decided or stored: {poison.describe(exc)}"
                        batch.rejected.append((item[0], Rejected(reason, REFUSED)))
        return [(item, batch.done[i]) for i, item in enumerate(batch.valid) if i in batch.done]

    def _hub_checked(self, decided: list[tuple[Valid, Decision]],
                     rejected: list[tuple[ConsumerRecord, Rejected]]) -> list[Decision]:
        """The decisions to publish; a parcel id decided for another hub is dead-lettered instead, so one hub
        never receives (or acts on) the decision made for another hub's parcel."""
        decisions = []
        for (record, (manifest, _)), decision in decided:
            if decision.hub_id == manifest.hub_id:
                decisions.append(decision)
            else:
                rejected.append((record, Rejected(
                    f"parcel_id {manifest.parcel_id} was already decided for hub {decision.hub_id}; "
                    f"hub {manifest.hub_id} must use its own parcel ids", PARCEL_ID_CONFLICT)))
        return decisions

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
        limit = deadletter.value_limit(self.producer)
        for record, rejection in rejected:
            letter = deadletter.DeadLetter(record, rejection.reason, rejection.code)
            futures.append(deadletter.send(self.producer, topics.MANIFESTS_DLQ, letter, limit))
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
            # The group rebalanced (or is rebalancing: the commit raced a member joining or leaving): the
            # partitions' new owner replays from the last commit and gets the stored decisions back, so
            # dropping this commit loses nothing and decides nothing twice.
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

    def _heartbeat(self, force: bool = False, error: str | None = None, progress: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < 2.0:
            return
        self._last_heartbeat = now
        if progress or now - self._last_progress >= 30.0:
            self._last_progress = now
            log.info("scorer progress", extra={
                "consumed": self.counters.consumed, "decided": self.counters.decided, "batches": self.counters.batches,
                "seconds": {k: round(v, 2) for k, v in self.counters.seconds.items()}})
        model = self.scorer.models.current
        try:
            self.store.workers.heartbeat(self.worker_id, "scorer", {
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
