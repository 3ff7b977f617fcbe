"""The durable embedded broker (Tansu on S3 storage in a local s3rver) keeps topics and committed offsets
across a restart, at least for light traffic (see test_broker_restart.py for where it does not)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from streams import clients
from streams.broker import durable_broker
from streams.produce import publish

pytestmark = [pytest.mark.kafka]


def _drain(bootstrap: str, group: str, limit: int | None = None, quiet_s: float = 2.0) -> list[bytes]:
    consumer = clients.consumer(bootstrap, group, "t", max_poll_records=50)
    keys: list[bytes] = []
    last = time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and time.monotonic() - last < quiet_s + (8 if not keys else 0):
        for records in consumer.poll(300).values():
            for record in records:
                if limit is None or len(keys) < limit:
                    keys.append(record.key)
                    consumer.commit({TopicPartition(record.topic, record.partition):
                                     OffsetAndMetadata(record.offset + 1, "", -1)})
            last = time.monotonic()
        if limit is not None and len(keys) >= limit:
            break
    consumer.close(autocommit=False)
    return keys


def test_topics_and_committed_offsets_survive_a_clean_restart(tmp_path: Path) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    with durable_broker(tmp_path / "broker", log_path=tmp_path / "tansu.log") as broker:
        clients.ensure_topics(broker.bootstrap, 2, ["t"])
        publish(broker.bootstrap, [{"parcel_id": f"p{i}"} for i in range(300)], topic="t")
        first = _drain(broker.bootstrap, group, limit=120)
        time.sleep(1.0)
        broker.restart()
        rest = _drain(broker.bootstrap, group)
    assert len(first) == 120
    assert sorted(first + rest) == sorted(f"p{i}".encode() for i in range(300))
