"""The broker restarts in the middle of a stream: the scorer, holding live connections, a group
membership and a backlog still to consume, should recover on its own, and decide the hub's later
manifests too. Runs on the durable embedded mode (Tansu on S3 storage served by a local,
disk-writing s3rver), where topics and committed offsets are meant to survive a restart.

Measured here (2026-11), Tansu 0.6.0 on S3 storage does not keep that promise once a stream has run:
after a restart, even a clean one (SIGTERM) with nothing written for a second before it, partitions
come back with acknowledged records missing and their offsets handed out again, so consumers that
resume from committed offsets sit past the new end and never see the new records (no
OffsetOutOfRange either). The scorer test is therefore an xfail that still runs in full (it drives
the recovery path: lost membership, refused commit, rejoin, replay); the strict xfail pins the
simplest form of the defect, so a fixed broker shows up. Lighter traffic survives (first test in
test_durable_broker.py). ParcelGuard's producers keep one request in flight and are not idempotent
because of two more defects of this storage (streams/clients.py).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from models import topics
from scoring.store import Store
from streams import clients
from streams.broker import durable_broker
from streams.produce import publish
from tests.kafka_helpers import read_topic
from tests.streams.conftest import RunScorer
from tests.streams.support import decisions_by_parcel, manifests, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
BACKLOG, LIVE = 600, 300


@pytest.mark.xfail(strict=False, reason="Tansu 0.6.0 on S3 loses acknowledged records across a restart (see above)")
def test_scorer_recovers_on_its_own_when_the_broker_restarts_under_load(
    tmp_path: Path, run_scorer: RunScorer, file_store: Store
) -> None:
    backlog, live = manifests(BACKLOG, prefix="R"), manifests(LIVE, prefix="S", seed=3)
    held, release = threading.Event(), threading.Event()

    def hold_after_second_batch(_: object) -> None:
        if not held.is_set() and file_store.decisions.count() >= BACKLOG // 3:
            held.set()
            release.wait(60)

    with durable_broker(tmp_path / "broker", log_path=tmp_path / "tansu.log") as broker:
        clients.ensure_topics(broker.bootstrap, partitions=3)
        publish(broker.bootstrap, backlog)
        with run_scorer(broker.bootstrap, group="durable", poll_records=100,
                        on_batch=hold_after_second_batch) as stream:
            wait_until(held.is_set, 60, "the scorer to be mid-backlog")
            time.sleep(1.0)  # let the broker settle its writes: see the defect above
            broker.restart()  # SIGTERM, then start again on the same port and storage
            release.set()
            assert file_store.decisions.count() < BACKLOG, "the restart must land mid-backlog"
            publish(broker.bootstrap, live, rate=1000.0)
            wait_until(lambda: file_store.decisions.count() >= BACKLOG + LIVE, 60, "the scorer to recover")
            published = read_topic(broker.bootstrap, topics.DECISIONS, BACKLOG + LIVE, timeout_s=60)
            dead = read_topic(broker.bootstrap, topics.MANIFESTS_DLQ, 0, timeout_s=2)

    by_parcel = decisions_by_parcel(published)
    assert set(by_parcel) == {m["parcel_id"] for m in backlog + live}
    assert file_store.decisions.count() == BACKLOG + LIVE
    assert not dead
    for copies in by_parcel.values():  # anything republished after the restart is the stored decision
        assert len({(c["action"], c["why"], c["decided_at"]) for c in copies}) == 1
    assert stream.counters.consumed >= BACKLOG + LIVE


def _restart_while_writing(tmp_path: Path, hard: bool, **producer: Any) -> set[bytes]:
    """Keys readable from topic t after a restart that lands while two producers write to the broker."""
    from kafka import KafkaConsumer, TopicPartition

    stop = threading.Event()
    with durable_broker(tmp_path / "defect", log_path=tmp_path / "defect.log") as broker:
        clients.ensure_topics(broker.bootstrap, 2, ["t", "u"])

        def write(topic: str, n: int, rate: float | None) -> None:
            sender = clients.producer(broker.bootstrap, **producer)
            for i in range(n):
                if stop.is_set():
                    break
                sender.send(topic, key=f"{topic}{i}".encode(), value=b"{}")
                if rate:
                    time.sleep(1 / rate)
            sender.flush()
            sender.close()

        writers = [threading.Thread(target=write, args=("t", 1600, 400.0)),
                   threading.Thread(target=write, args=("u", 200_000, None))]
        for writer in writers:
            writer.start()
        time.sleep(1.5)
        broker.restart(hard=hard)
        writers[0].join(60)
        stop.set()
        writers[1].join(60)
        reader = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        keys: set[bytes] = set()
        for partition in range(2):
            tp = TopicPartition("t", partition)
            reader.assign([tp])
            reader.seek_to_beginning(tp)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                for records in reader.poll(300).values():
                    keys.update(r.key for r in records)
        reader.close()
    return keys


@pytest.mark.xfail(strict=True, reason="Tansu 0.6.0 defect: kill -9 while writing to S3 storage loses records")
def test_defect_kill_9_of_a_durable_broker_while_writing_loses_records(tmp_path: Path) -> None:
    assert len(_restart_while_writing(tmp_path, hard=True)) == 1600


