"""Poison against outage (issue 13): a record that breaks deciding, storing or dead-lettering is dead-lettered
alone and the rest of its batch decided; a database that stops answering is waited out, never dead-lettered.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import topics
from models.features import FeatureBuilder
from parcelguard.config import Settings
from scoring import readiness
from scoring.db import make_engine, metadata
from scoring.engine import ModelSource
from scoring.store import Store
from streams import clients, deadletter
from streams.broker import EmbeddedBroker
from streams.outcomes import OutcomeConsumer
from tests.conftest import POSTGRES_URL, _fresh_postgres_schema
from tests.factories import manifest
from tests.kafka_helpers import read_topic
from tests.streams.conftest import RunScorer
from tests.streams.freezable_proxy import FreezableProxy
from tests.streams.support import decisions_by_parcel, manifests, tiny_model, wait_until

pytestmark = [pytest.mark.kafka]


def _send(bootstrap: str, values: list[tuple[str, bytes]], topic: str = topics.MANIFESTS) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 1024 * 1024)
    for key, value in values:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def test_a_record_the_feature_code_chokes_on_is_dead_lettered_and_its_batch_decided(
    broker: EmbeddedBroker, run_scorer: RunScorer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one OverflowError in the feature code failed the whole batch, retried forever."""
    clients.ensure_topics(broker.bootstrap, partitions=1)  # one partition: poison and good share a batch
    good = manifests(40, prefix="FC")
    items = [*good[:20], manifest(parcel_id="CHOKE"), *good[20:]]
    _send(broker.bootstrap, [(m["parcel_id"], orjson.dumps(m)) for m in items])
    model, _ = tiny_model()
    real_build = FeatureBuilder.build

    def build(self: FeatureBuilder, manifest_: Any, *args: Any, **kwargs: Any) -> Any:
        if manifest_.parcel_id == "CHOKE":
            raise OverflowError("date value out of range")
        return real_build(self, manifest_, *args, **kwargs)

    monkeypatch.setattr(FeatureBuilder, "build", build)
    with run_scorer(broker.bootstrap, models=ModelSource.fixed(model), store=store, poll_records=1000):
        dead = read_topic(broker.bootstrap, topics.MANIFESTS_DLQ, 1)
        published = read_topic(broker.bootstrap, topics.DECISIONS, len(good))

    assert [r.key for r in dead] == [b"CHOKE"]
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["reason_code"] == "unprocessable" and "OverflowError" in headers["reason"]
    assert set(decisions_by_parcel(published)) == {m["parcel_id"] for m in good}
    assert all(len(copies) == 1 for copies in decisions_by_parcel(published).values())
    assert store.decisions.count() == len(good)


def test_a_dead_letter_too_large_for_the_topic_is_truncated_with_its_size_and_source(broker: EmbeddedBroker) -> None:
    clients.ensure_topics(broker.bootstrap, partitions=1)
    huge = b"x" * (10 * 1024 * 1024)
    record = ConsumerRecord(topic=topics.MANIFESTS, partition=0, leader_epoch=0, offset=1234, timestamp=0,
                            timestamp_type=0, key=b"K", value=huge, headers=[], checksum=None,
                            serialized_key_size=1, serialized_value_size=len(huge), serialized_header_size=-1)
    producer = clients.producer(broker.bootstrap)
    limit = deadletter.value_limit(producer)
    letter = deadletter.DeadLetter(record, "oversize", "oversize")
    future = deadletter.send(producer, topics.MANIFESTS_DLQ, letter, limit)
    producer.flush()
    producer.close()
    assert future.succeeded()  # before: MessageSizeTooLargeError, and the scorer retried forever

    [dead] = read_topic(broker.bootstrap, topics.MANIFESTS_DLQ, 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["truncated"] == "true" and headers["original_size"] == str(len(huge))
    assert headers["source_offset"] == "1234" and headers["source_topic"] == topics.MANIFESTS
    assert headers["reason"] == "oversize" and dead.value == huge[:limit]


def test_the_outcome_consumer_dead_letters_poison_and_records_the_rest(
    broker: EmbeddedBroker, store: Store
) -> None:
    """Before: a year-1 time or any store error ended the process, and a restart met the same record."""
    clients.ensure_topics(broker.bootstrap, partitions=1)
    postgres = store.engine.dialect.name == "postgresql"

    def outcome(parcel_id: str, **changes: Any) -> bytes:
        return orjson.dumps({"parcel_id": parcel_id, "screened_at": "2026-11-21T09:00:00+08:00",
                             "result": "clear", **changes})

    values = [("G1", outcome("G1")), ("Y1", outcome("Y1", screened_at="0001-01-01T00:00:00+14:00")),
              ("JS", b"{not json"), ("NUL", outcome("NUL", note="a\x00b")), ("G2", outcome("G2"))]
    _send(broker.bootstrap, values, topics.OUTCOMES)
    consumer = OutcomeConsumer(store, broker.bootstrap, group_id="outcomes-poison")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    expected_dead = 3 if postgres else 2  # PostgreSQL refuses NUL in text; SQLite stores it
    dead = read_topic(broker.bootstrap, topics.OUTCOMES_DLQ, expected_dead)
    wait_until(lambda: consumer.recorded + consumer.rejected >= len(values), 60, "every outcome handled")
    consumer.stop()
    thread.join(30)

    assert not errors and not thread.is_alive()
    codes = {r.key.decode(): dict(r.headers)["reason_code"].decode() for r in dead}
    assert codes["Y1"] == "invalid_field" and codes["JS"] == "invalid_json"
    assert codes.get("NUL") == ("unprocessable" if postgres else None)
    assert len(dead) == expected_dead
    assert store.outcomes.for_parcel("G1") and store.outcomes.for_parcel("G2")
    assert "0001" in dict(next(r for r in dead if r.key == b"Y1").headers)["reason"].decode()


def test_a_locked_sqlite_database_pauses_the_scorer_shows_not_ready_and_loses_nothing(
    broker: EmbeddedBroker, run_scorer: RunScorer, file_store: Store, settings: Settings
) -> None:
    """A real outage: another connection holds an exclusive transaction on the database file. The scorer runs
    with a model, so a parcel decided twice would show as a second, different decision."""
    clients.ensure_topics(broker.bootstrap, partitions=2)
    path = settings.database_url.removeprefix("sqlite:///")
    locker = sqlite3.connect(path, timeout=1, isolation_level=None)
    items = manifests(200, prefix="LCK")
    model, _ = tiny_model()
    with run_scorer(broker.bootstrap, models=ModelSource.fixed(model)) as stream:
        _send(broker.bootstrap, [(m["parcel_id"], orjson.dumps(m)) for m in items[:10]])
        wait_until(lambda: file_store.decisions.count() == 10, 60, "the scorer to join and decide")
        locker.execute("BEGIN EXCLUSIVE")
        try:
            _send(broker.bootstrap, [(m["parcel_id"], orjson.dumps(m)) for m in items[10:]])
            wait_until(lambda: stream.counters.retries >= 1, 60, "a store write to fail on the lock")
            assert readiness.database(file_store.engine, timeout_s=10).ok is False
            wait_until(lambda: stream.stalled_for() > 1.0, 30, "the batch to stall")
            assert readiness.progress(stream.stalled_for(), stream.last_failure, limit_s=1.0).ok is False
            assert "locked" in (stream.last_failure or "")
            assert stream.counters.dead_lettered == 0 and file_store.decisions.count() == 10
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        published = read_topic(broker.bootstrap, topics.DECISIONS, len(items), timeout_s=120)
        wait_until(lambda: stream.counters.consumed >= len(items), 60, "every record counted")
        time.sleep(0.5)

    assert readiness.database(file_store.engine).ok
    assert stream.counters.dead_lettered == 0  # an outage is never poison
    by_parcel = decisions_by_parcel(published)
    assert set(by_parcel) == {m["parcel_id"] for m in items}
    assert file_store.decisions.count() == len(items)
    for parcel_id, copies in by_parcel.items():  # every copy is the one stored decision
        stored = file_store.decisions.get(parcel_id)
        assert stored is not None
        assert {(c["action"], c["score"], datetime.fromisoformat(c["decided_at"])) for c in copies} == {
            (stored.action, stored.score, stored.decided_at)}


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PARCELGUARD_TEST_POSTGRES_URL")
def test_a_frozen_postgresql_shows_not_ready_within_seconds_and_the_scorer_loses_nothing(
    broker: EmbeddedBroker, run_scorer: RunScorer
) -> None:
    """Before: a PostgreSQL frozen for 110 s hung /readyz. Now the probe answers not ready within its timeout,
    the stalled scorer says so on its progress check, and after the thaw every manifest is decided once."""
    url = make_url(POSTGRES_URL)
    schema = _fresh_postgres_schema()
    with FreezableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                             connect_args={"options": f"-csearch_path={schema}"})
        store = Store(engine)
        store.create_schema()
        clients.ensure_topics(broker.bootstrap, partitions=1)
        items = manifests(100, prefix="FRZ")
        model, _ = tiny_model()
        with run_scorer(broker.bootstrap, models=ModelSource.fixed(model), store=store) as stream:
            _send(broker.bootstrap, [(m["parcel_id"], orjson.dumps(m)) for m in items[:10]])
            wait_until(lambda: stream.counters.decided >= 10, 60, "the scorer to join and decide")
            proxy.freeze()
            _send(broker.bootstrap, [(m["parcel_id"], orjson.dumps(m)) for m in items[10:]])
            wait_until(lambda: stream.stalled_for() > 2.0, 30, "the scorer to stall on the frozen database")
            started = time.monotonic()
            check = readiness.database(engine, timeout_s=2)
            assert check.ok is False and "no answer" in check.detail
            assert time.monotonic() - started < 30  # bounded (the probe must answer, not hang)
            assert readiness.progress(stream.stalled_for(), stream.last_failure, limit_s=2.0).ok is False
            proxy.thaw()
            published = read_topic(broker.bootstrap, topics.DECISIONS, len(items), timeout_s=120)
        assert stream.counters.dead_lettered == 0
        assert set(decisions_by_parcel(published)) == {m["parcel_id"] for m in items}
        assert store.decisions.count() == len(items)
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
