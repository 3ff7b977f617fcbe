"""Dead letters: a record the loop cannot process, sent on to a dead-letter topic with why and whence.

The headers carry the reason, a short reason code, and the record's source topic, partition and offset,
so a hub can fix its feed and an operator can replay from the dead-letter topic alone. The value is the
original bytes, unless they would not fit in one produce request (the producer refuses anything over its
``max_request_size``, which used to stop the scorer for good): then the value is cut to what fits and the
headers say so, with the original size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.producer.future import FutureRecordMetadata

log = logging.getLogger(__name__)
# Room kept in a produce request for the headers, the key and the record and batch framing.
_FRAMING_BYTES = 64 * 1024
MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record on its way to a dead-letter topic, and why."""

    record: ConsumerRecord
    reason: str
    code: str


def value_limit(producer: KafkaProducer) -> int:
    """The most value bytes a dead letter may carry through ``producer``."""
    return max(1024, int(producer.config["max_request_size"]) - _FRAMING_BYTES)


def send(producer: KafkaProducer, topic: str, letter: DeadLetter, limit: int) -> FutureRecordMetadata:
    """Send ``letter`` to ``topic`` (truncated to ``limit`` value bytes if need be); the caller flushes."""
    record = letter.record
    value = record.value or b""
    key = record.key[:MAX_KEY_BYTES] if record.key else record.key
    headers = [
        ("reason", letter.reason.encode()),
        ("reason_code", letter.code.encode()),
        ("source_topic", record.topic.encode()),
        ("source_partition", str(record.partition).encode()),
        ("source_offset", str(record.offset).encode()),
        ("original_size", str(len(value)).encode()),
    ]
    truncated = len(value) > limit or (record.key is not None and len(record.key) > MAX_KEY_BYTES)
    if truncated:
        headers.append(("truncated", b"true"))
        value = value[:limit]
    log.warning("record dead-lettered", extra={
        "topic": topic, "reason": letter.reason, "code": letter.code, "source_topic": record.topic,
        "partition": record.partition, "offset": record.offset, "bytes": len(record.value or b""),
        "truncated": truncated})
    return producer.send(topic, key=key, value=value, headers=headers)
