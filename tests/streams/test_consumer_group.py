"""Two ``parcelguard score`` processes in one consumer group split the partitions; one leaves, the other
takes over its partitions, and no manifest is lost or decided twice."""

from __future__ import annotations

import threading
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
FIRST, SECOND = 3000, 3000


def _consumed_by(store: Store) -> dict[int, int]:
    """Records consumed per scorer process, from the heartbeats the health endpoint reads."""
    return {int(w.worker_id.split("-")[-2]): int(w.consumed) for w in store.workers.statuses() if w.kind == "scorer"}


def test_two_scorers_split_partitions_and_one_takes_over_when_the_other_leaves(
    settings: Settings, broker: EmbeddedBroker, file_store: Store
) -> None:
    clients.ensure_topics(broker.bootstrap, partitions=4)
    # With a model, a parcel decided a second time would differ (score, decided_at); without one every
    # decision is fixed in advance and a double decision could not be seen.
    register_tiny_model(settings)
    early, late = manifests(FIRST, prefix="A"), manifests(SECOND, prefix="B", seed=2)
    with ScorerProcess(settings, broker.bootstrap, "pair", "one") as one, \
            ScorerProcess(settings, broker.bootstrap, "pair", "two") as two:
        feed = threading.Thread(target=publish, args=(broker.bootstrap, early), kwargs={"rate": 1000.0})
        feed.start()
        feed.join(60)
        wait_until(lambda: file_store.decisions.count() >= FIRST, 120, "both scorers to decide the first part")
        wait_until(lambda: len(_consumed_by(file_store)) == 2 and all(_consumed_by(file_store).values()),
                   30, "both scorers to report consumption")
        split = _consumed_by(file_store)
        assert all(n > 0 for n in split.values()), f"both scorers must own partitions: {split}"

        assert one.terminate() == 0  # a clean leave: the group hands its partitions to the other
        publish(broker.bootstrap, late, rate=1000.0)
        wait_until(lambda: file_store.decisions.count() >= FIRST + SECOND, 120, "the remaining scorer to take over")
        published = read_topic(broker.bootstrap, topics.DECISIONS, FIRST + SECOND, timeout_s=60)
        wait_until(lambda: _consumed_by(file_store)[two.pid] - split[two.pid] >= SECOND, 30,
                   "the remaining scorer to report every later manifest consumed")
        assert two.process is not None and two.process.poll() is None, two.log_text()[-2000:]
        assert "partitions assigned" in two.log_text()

    by_parcel = decisions_by_parcel(published)
    assert set(by_parcel) == {m["parcel_id"] for m in early + late}
    assert file_store.decisions.count() == FIRST + SECOND
    for parcel_id, copies in by_parcel.items():
        stored = file_store.decisions.get(parcel_id)
        assert stored is not None
        # A replay after the hand-over republishes the stored decision, never a new one.
        assert {(c["action"], c["why"], c["score"], datetime.fromisoformat(c["decided_at"])) for c in copies} == {
            (stored.action, stored.why, stored.score, stored.decided_at)}, parcel_id
    assert any(c["model_version"] for copies in by_parcel.values() for c in copies), "the scorers ran with a model"
