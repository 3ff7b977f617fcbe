"""Reading topics back in tests, with the broker's quirks in mind (fresh group id per read)."""

from __future__ import annotations

import time
import uuid

from kafka.consumer.fetcher import ConsumerRecord

from streams import clients


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[ConsumerRecord]:
    """Every record on ``topic`` once at least ``expected`` arrived (or the timeout passed)."""
    consumer = clients.consumer(bootstrap, f"test-reader-{uuid.uuid4().hex[:8]}", topic)
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(records) < expected:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # a short grace period shows whether more than expected arrive
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close(autocommit=False)
    return records
