"""kill -9 of a ``parcelguard score`` process mid-stream, then a restart: nothing lost, nothing decided twice.

Every manifest ends with exactly one stored decision and at least one published decision, and every
published copy (a replay republishes) is the stored decision, not a second opinion.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

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
    # A feed faster than one scorer decides, so batches are full and the kill lands mid-stream.
    feed = threading.Thread(target=publish, args=(broker.bootstrap, items), kwargs={"rate": 5000.0})
    feed.start()
    try:
        with ScorerProcess(settings, broker.bootstrap, "crash-group", "first") as first:
            wait_until(lambda: file_store.decisions.count() >= TOTAL // 10, 90, "the first scorer to decide")
            # Kill right after a batch is stored: its publish and commit are still to come, so the restart
            # must replay records whose decisions are already stored (checked below).
            before = file_store.decisions.count()
            while file_store.decisions.count() == before:
                time.sleep(0.002)
            first.kill9()
        killed_at = file_store.decisions.count()
        assert killed_at < TOTAL, "the kill must land mid-stream"
        committed_at_kill = _committed(broker.bootstrap, "crash-group")
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
    # The restart replays every record after the last commit; the ones among them the first scorer had already
    # stored come back from the store instead of being decided again. At least one must exist, or the loop
    # below checks nothing a replay could break (the first scorer commits each batch after storing it).
    assert killed_at > committed_at_kill, (
        f"nothing stored was left uncommitted at the kill ({killed_at} stored, {committed_at_kill} committed): "
        "no replay of a stored decision happened")
    for parcel_id, copies in by_parcel.items():
        stored = file_store.decisions.get(parcel_id)
        assert stored is not None
        for copy in copies:  # decided_at too: a second decision with the same outcome would still differ here
            assert (copy["action"], copy["why"], copy["score"], copy["model_version"],
                    datetime.fromisoformat(copy["decided_at"])) == (
                stored.action, stored.why, stored.score, stored.model_version, stored.decided_at)
    models = {d[0]["model_version"] for d in by_parcel.values() if d[0]["why"] != "out_of_scope"}
    assert models == {"1"}


def _committed(bootstrap: str, group: str) -> int:
    """Records the group has committed on the manifests topic (the sum of its committed offsets)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topics.MANIFESTS and meta.offset > 0)
