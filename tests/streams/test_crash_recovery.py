"""kill -9 of a ``parcelguard score`` process mid-stream, then a restart: nothing lost, nothing decided twice.

Every manifest ends with exactly one stored decision and at least one published decision, and every
published copy (a replay republishes) is the stored decision, not a second opinion.
"""

from __future__ import annotations

import threading

import pytest

from models import topics
from parcelguard.config import Settings
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.produce import publish
from tests.kafka_helpers import read_topic
from tests.streams.support import ScorerProcess, decisions_by_parcel, manifests, register_tiny_model, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOTAL = 6000


def test_kill_9_mid_stream_then_restart_loses_nothing_and_decides_nothing_twice(
    settings: Settings, broker: EmbeddedBroker, file_store: Store
) -> None:
    register_tiny_model(settings)
    clients.ensure_topics(broker.bootstrap, partitions=3)
    items = manifests(TOTAL, prefix="K")
    # A steady feed, so the kill lands while manifests are still arriving and being decided.
    feed = threading.Thread(target=publish, args=(broker.bootstrap, items), kwargs={"rate": 1500.0})
    feed.start()
    try:
        with ScorerProcess(settings, broker.bootstrap, "crash-group", "first") as first:
            wait_until(lambda: file_store.decisions.count() >= TOTAL // 5, 90, "the first scorer to decide")
            first.kill9()
        killed_at = file_store.decisions.count()
        assert killed_at < TOTAL, "the kill must land mid-stream"
        with ScorerProcess(settings, broker.bootstrap, "crash-group", "second") as second:
            wait_until(lambda: file_store.decisions.count() >= TOTAL, 120, "the restarted scorer to finish")
            published = read_topic(broker.bootstrap, topics.DECISIONS, TOTAL, timeout_s=60)
            assert second.process is not None and second.process.poll() is None, second.log_text()[-2000:]
            assert second.terminate() == 0
    finally:
        feed.join(60)

    by_parcel = decisions_by_parcel(published)
    ids = {m["parcel_id"] for m in items}
    assert set(by_parcel) == ids, f"missing: {sorted(ids - set(by_parcel))[:5]}"
    assert file_store.decisions.count() == TOTAL  # the parcel id is the key: one stored decision each
    republished = {pid: copies for pid, copies in by_parcel.items() if len(copies) > 1}
    for parcel_id, copies in republished.items():
        stored = file_store.decisions.get(parcel_id)
        assert stored is not None
        for copy in copies:
            assert (copy["action"], copy["why"], copy["score"], copy["model_version"]) == (
                stored.action, stored.why, stored.score, stored.model_version)
    models = {d[0]["model_version"] for d in by_parcel.values() if d[0]["why"] != "out_of_scope"}
    assert models == {"1"}
