"""Poison messages of every kind reach the DLQ with a reason and their original bytes; the stream goes on.

Also: a refused commit neither stops the scorer nor loses a manifest. The store outage (a real lock on the
database, with a model) and the poison past validation are in ``test_poison``; the issue 13 kinds in
``test_chaos``.
"""

from __future__ import annotations

import orjson
import pytest
from kafka import KafkaProducer

from models import topics
from scoring.store import Store
from scoring.store.rows import Hub
from streams import clients
from streams.broker import EmbeddedBroker
from streams.produce import publish
from tests.factories import manifest
from tests.kafka_helpers import read_topic
from tests.streams.conftest import RunScorer
from tests.streams.support import HUBS, decisions_by_parcel, manifests, wait_until

pytestmark = [pytest.mark.kafka]

POISON: list[tuple[str, bytes | None]] = [
    ("invalid_json", b'{"schema_version": 1, "parcel_id": "BROKEN'),
    ("invalid_json", b"\xff\xfe not utf-8"),
    ("not_object", b"[1, 2, 3]"),
    ("missing_field", orjson.dumps({k: v for k, v in manifest(parcel_id="NOHUB").items() if k != "hub_id"})),
    ("invalid_field", orjson.dumps(manifest(parcel_id="BADWEIGHT", weight_g="heavy"))),
    ("invalid_field", orjson.dumps(manifest(parcel_id="NOTZONE", accepted_at="2026-11-20T21:14:05"))),
    ("oversize", orjson.dumps(manifest(parcel_id="HUGE", contents__description="x" * 70_000))),
    ("unknown_schema_version", orjson.dumps(manifest(parcel_id="V2", schema_version=2))),
    ("unknown_schema_version", orjson.dumps({k: v for k, v in manifest(parcel_id="NOV").items()
                                             if k != "schema_version"})),
    ("empty", b""),
    ("empty", None),
    ("unknown_hub", orjson.dumps(manifest(parcel_id="TYPOHUB", hub_id="HAK-MEILAM"))),  # one letter off
]


def test_every_kind_of_poison_is_dead_lettered_with_reason_and_original_bytes(
    broker: EmbeddedBroker, run_scorer: RunScorer, file_store: Store
) -> None:
    clients.ensure_topics(broker.bootstrap, partitions=1)  # one partition: the DLQ order follows the input
    for hub in HUBS:  # a registry that lists hubs: a manifest from any other hub is dead-lettered
        file_store.hubs.save(Hub(hub, hub, "Asia/Shanghai"), actor="test")
    good = manifests(60, prefix="OK")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i, item in enumerate(good):
        producer.send(topics.MANIFESTS, key=item["parcel_id"].encode(), value=orjson.dumps(item))
        if i % 5 == 0 and i // 5 < len(POISON):  # poison spread through the stream
            producer.send(topics.MANIFESTS, key=f"poison-{i}".encode(), value=POISON[i // 5][1])
    producer.flush()
    producer.close()

    with run_scorer(broker.bootstrap) as stream:
        dead = read_topic(broker.bootstrap, topics.MANIFESTS_DLQ, len(POISON))
        published = read_topic(broker.bootstrap, topics.DECISIONS, len(good))
        wait_until(lambda: stream.counters.consumed >= len(good) + len(POISON), 30, "every record counted")

    assert len(dead) == len(POISON)
    for record, (code, original) in zip(sorted(dead, key=lambda r: r.offset), POISON, strict=True):
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["reason_code"] == code, headers["reason"]
        assert headers["reason"] and headers["source_topic"] == topics.MANIFESTS
        assert int(headers["source_offset"]) >= 0
        assert record.value == (original or b"")  # the original bytes, untouched
    reasons = " | ".join(dict(r.headers)["reason"].decode() for r in dead)
    for expected in ("hub_id", "weight_g", "accepted_at", "oversize", "schema_version", "invalid JSON",
                     "'HAK-MEILAM' is not a registered hub"):
        assert expected in reasons
    # The stream went on: every good manifest before and after the poison was decided once.
    assert set(decisions_by_parcel(published)) == {m["parcel_id"] for m in good}
    assert file_store.decisions.count() == len(good)
    assert stream.counters.by_rejection["empty"] == 2 and stream.counters.dead_lettered == len(POISON)


def test_a_refused_or_failed_commit_neither_stops_the_scorer_nor_loses_a_manifest(
    broker: EmbeddedBroker, run_scorer: RunScorer, file_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit can race a member joining or leaving the group (it is refused: the partitions' next owner
    replays) or meet a broker that is away (it is retried); neither may end the scorer."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaConnectionError, RebalanceInProgressError

    clients.ensure_topics(broker.bootstrap, partitions=2)
    real_commit = KafkaConsumer.commit
    failures = [RebalanceInProgressError("rebalancing"), KafkaConnectionError("broker away")]

    def failing_commit(self: KafkaConsumer, *args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop(0)
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(KafkaConsumer, "commit", failing_commit)
    items = manifests(400, prefix="CMT")
    with run_scorer(broker.bootstrap, poll_records=50) as stream:
        publish(broker.bootstrap, items)
        published = read_topic(broker.bootstrap, topics.DECISIONS, len(items), timeout_s=90)
        wait_until(lambda: file_store.decisions.count() >= len(items), 30, "every manifest decided")

    assert not failures
    assert stream.counters.dropped_after_rebalance > 0 and stream.counters.retries >= 1
    assert set(decisions_by_parcel(published)) == {m["parcel_id"] for m in items}
    assert file_store.decisions.count() == len(items)
