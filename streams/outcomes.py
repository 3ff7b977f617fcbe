"""Consumes screening outcomes published by X-ray stations on ``parcel.outcomes`` into the store.

Invalid outcomes go to ``parcel.outcomes.dlq`` with the reason; offsets are committed after storing.
"""

from __future__ import annotations

import logging
import threading

import orjson
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from models import topics
from models.manifest import Outcome
from scoring.store import Store
from streams import clients
from streams.validate import explain_validation

log = logging.getLogger(__name__)


class OutcomeConsumer:
    def __init__(self, store: Store, bootstrap: str, group_id: str = "parcelguard-outcomes") -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.recorded = 0
        self.rejected = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        consumer = clients.consumer(self.bootstrap, self.group_id, topics.OUTCOMES)
        producer = clients.producer(self.bootstrap)
        try:
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=300, max_records=500)
                for batch in polled.values():
                    for record in batch:
                        reason = self._record(record.value)
                        if reason is not None:
                            self.rejected += 1
                            producer.send(topics.OUTCOMES_DLQ, key=record.key, value=record.value or b"",
                                          headers=[("reason", reason.encode())])
                            log.warning("outcome dead-lettered", extra={"reason": reason})
                if polled:
                    producer.flush()
                    consumer.commit({tp: OffsetAndMetadata(b[-1].offset + 1, "", -1) for tp, b in polled.items() if b})
        finally:
            producer.close()
            consumer.close(autocommit=False)

    def _record(self, value: bytes | None) -> str | None:
        try:
            outcome = Outcome.model_validate(orjson.loads(value or b""))
        except orjson.JSONDecodeError as exc:
            return f"invalid JSON: {exc}"
        except ValidationError as exc:
            return f"invalid outcome: {explain_validation(exc)}"
        if not self.store.outcomes.record(outcome, actor="xray-station"):
            log.warning("outcome for a parcel with no decision stored", extra={"parcel_id": outcome.parcel_id})
        self.recorded += 1
        return None
