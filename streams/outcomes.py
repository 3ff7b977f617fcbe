"""Consumes screening outcomes published by X-ray stations on ``parcel.outcomes`` into the store.

Invalid outcomes go to ``parcel.outcomes.dlq`` with the reason; offsets are committed after storing.
Like the scorer, it tells poison from outage (``streams.poison``): a store that does not answer is
waited out, record by record, with backoff; a record the store refuses RECORD_TRIES times is
dead-lettered and the ones behind it go on. A bad record never ends the process.
"""

from __future__ import annotations

import logging
import threading

import orjson
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from models import topics
from models.manifest import Outcome
from scoring.store import Store
from streams import clients, deadletter, poison
from streams.validate import INVALID_FIELD, INVALID_JSON, REFUSED, explain_validation

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


class OutcomeConsumer:
    def __init__(self, store: Store, bootstrap: str, group_id: str = "parcelguard-outcomes") -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.recorded = 0
        self.rejected = 0
        self.retries = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        consumer = clients.consumer(self.bootstrap, self.group_id, topics.OUTCOMES)
        producer = clients.producer(self.bootstrap)
        limit = deadletter.value_limit(producer)
        try:
            while not self._stop.is_set():
                # 1. Consume.
                polled = consumer.poll(timeout_ms=300, max_records=500)
                if not polled:
                    continue
                # 2. Validate and store each record; dead-letter the ones that cannot be.
                for batch in polled.values():
                    for record in batch:
                        letter = self._handle(record)
                        if letter is None:
                            continue
                        if self._stop.is_set():
                            return  # stopped mid-outage: nothing committed, the records come back
                        self.rejected += 1
                        deadletter.send(producer, topics.OUTCOMES_DLQ, letter, limit)
                # 3. Publish the dead letters (acknowledged), then 4. commit.
                producer.flush()
                self._commit(consumer, {tp: OffsetAndMetadata(b[-1].offset + 1, "", -1)
                                        for tp, b in polled.items() if b})
        finally:
            producer.close()
            consumer.close(autocommit=False)

    def _commit(self, consumer: KafkaConsumer, offsets: dict[object, OffsetAndMetadata]) -> None:
        try:
            consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
            # The partitions' next owner replays them; recording an outcome again replaces it (idempotent).
            log.warning("outcome commit refused after a rebalance; the new owner replays",
                        extra={"error": poison.describe(exc)})

    def _handle(self, record: ConsumerRecord) -> deadletter.DeadLetter | None:
        """Store one outcome, waiting out an outage; a dead letter if the record itself is the problem."""
        tries, backoff = 0, 0.5
        while True:
            try:
                return self._record(record)
            except Exception as exc:
                error = poison.describe(exc)
                self.retries += 1
                if poison.is_outage(exc):
                    log.error("outcome store unavailable; retrying", extra={"error": error, "backoff_s": backoff})
                    if self._stop.wait(backoff):
                        return deadletter.DeadLetter(record, "stopped during an outage", REFUSED)
                    backoff = min(MAX_BACKOFF_S, backoff * 2)
                    continue
                tries += 1
                if tries >= poison.RECORD_TRIES:
                    return deadletter.DeadLetter(record, f"could not be stored: {error}", REFUSED)

    def _record(self, record: ConsumerRecord) -> deadletter.DeadLetter | None:
        try:
            outcome = Outcome.model_validate(orjson.loads(record.value or b""))
        except orjson.JSONDecodeError as exc:
            return deadletter.DeadLetter(record, f"invalid JSON: {exc}", INVALID_JSON)
        except ValidationError as exc:
            return deadletter.DeadLetter(record, f"invalid outcome: {explain_validation(exc)}", INVALID_FIELD)
        if not self.store.outcomes.record(outcome, actor="xray-station"):
            log.warning("outcome for a parcel with no decision stored", extra={"parcel_id": outcome.parcel_id})
        self.recorded += 1
        return None
