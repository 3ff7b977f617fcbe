"""Kafka client factories with the settings measured to work against both Tansu and Apache Kafka.

Constructors do no network I/O until first use; consumers never auto-commit (the scorer commits
only after a batch is stored and published).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import TopicAlreadyExistsError

from models import topics

log = logging.getLogger(__name__)

# Tansu hands out partitions only after ~half the session timeout (docs/broker-notes.md, defect 1).
SESSION_TIMEOUT_MS = 6000
FETCH_MAX_WAIT_MS = 20
HEARTBEAT_MS = 2000


def producer(bootstrap: str, **overrides: object) -> KafkaProducer:
    """acks=all with retries, one request in flight, not idempotent (unlike kafka-python 3's default).

    Every effect here is idempotent downstream (one decision per parcel id), so duplicates from a retry
    are harmless. Both settings work around Tansu on S3 storage: pipelined produce requests lose
    acknowledged records there, and after a restart an idempotent producer goes fatal
    (OutOfOrderSequenceNumber, then an epoch bump the broker refuses).
    """
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": False,
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "compression_type": None,
        "max_request_size": 4 * 1024 * 1024,
        "retries": 10,
        **overrides,
    }
    return KafkaProducer(**config)


def consumer(bootstrap: str, group_id: str, *subscribe: str, **overrides: object) -> KafkaConsumer:
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",  # plus idempotent decisions: see docs/broker-notes.md, defect 3
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": HEARTBEAT_MS,
        "max_poll_records": 1000,
        "fetch_max_bytes": 16 * 1024 * 1024,
        # Tansu holds a fetch for most of fetch_max_wait_ms even when records are waiting (measured: p50
        # 125 ms per hop at kafka-python's 500 ms default, 6 ms at 20 ms), so keep the wait short.
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        **overrides,
    }
    client = KafkaConsumer(**config)
    if subscribe:
        client.subscribe(list(subscribe))
    return client


def ensure_topics(bootstrap: str, partitions: int, names: Iterable[str] = topics.ALL) -> None:
    """Create the contract topics with their final partition count (Tansu cannot add partitions later)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        wanted = {name: {"num_partitions": partitions, "replication_factor": 1}
                  for name in names if name not in existing}
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                admin.create_topics(wanted)
            log.info("topics created", extra={"topics": sorted(wanted), "partitions": partitions})
    finally:
        admin.close()
