"""A promotion during a stream switches model versions cleanly: the scorer picks up the new champion
without a restart, every decision names the version that made it (and that version's score is the
score recorded), nothing is dropped or scored twice, and no partition goes back to the old version."""

from __future__ import annotations

import threading

import pytest

from models import registry, topics
from parcelguard.config import Settings
from scoring.engine import ModelSource
from scoring.explanations import logged_row
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.produce import publish
from tests.kafka_helpers import read_topic
from tests.streams.conftest import RunScorer
from tests.streams.support import decisions_by_parcel, manifests, register_tiny_model, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOTAL = 4000


def test_promotion_mid_stream_switches_versions_cleanly(
    settings: Settings, broker: EmbeddedBroker, file_store: Store, run_scorer: RunScorer
) -> None:
    assert register_tiny_model(settings, seed=0) == "1"
    assert register_tiny_model(settings, seed=1, champion=False) == "2"  # waits as challenger (shadow)
    clients.ensure_topics(broker.bootstrap, partitions=3)
    items = manifests(TOTAL, prefix="M")
    models = ModelSource(settings.model_name, check_every_s=0.2)
    swapped = threading.Event()

    def hold_second_half(i: int) -> None:
        # Loading a model can take seconds on a busy machine: the feed waits for it halfway, so the second
        # half is always decided after the swap, however long the load took.
        if i == TOTAL // 2:
            swapped.wait(60)

    with run_scorer(broker.bootstrap, models=models) as stream:
        feed = threading.Thread(target=publish, args=(broker.bootstrap, items),
                                kwargs={"rate": 800.0, "on_send": hold_second_half})
        feed.start()
        wait_until(lambda: file_store.decisions.count() >= TOTAL // 3, 60, "decisions by version 1")
        registry.set_alias(settings.model_name, "champion", "2")
        current = stream.scorer.models
        wait_until(lambda: current.current is not None and current.current.version == "2", 60, "version 2 in service")
        swapped.set()
        feed.join(60)
        wait_until(lambda: file_store.decisions.count() >= TOTAL, 60, "every manifest decided")
        published = read_topic(broker.bootstrap, topics.DECISIONS, TOTAL)
        assert stream.scorer.models.current is not None and stream.scorer.models.current.version == "2"

    by_parcel = decisions_by_parcel(published)
    assert set(by_parcel) == {m["parcel_id"] for m in items}
    assert file_store.decisions.count() == TOTAL
    assert all(len(copies) == 1 for copies in by_parcel.values()), "no replay happened, so none is published twice"

    # Versions in partition order: 1s, then 2s, never back.
    versions: dict[int, list[str]] = {}
    for record in sorted(published, key=lambda r: (r.partition, r.offset)):
        decision = by_parcel[record.key.decode()][0]
        if decision["why"] != "out_of_scope":
            versions.setdefault(record.partition, []).append(decision["model_version"])
    seen = {v for vs in versions.values() for v in vs}
    assert seen == {"1", "2"}
    for vs in versions.values():
        assert vs == sorted(vs), "a partition went back to the old model"

    # Each decision's score is the one its named version gives for the logged feature row.
    loaded = {v: registry.load_version(settings.model_name, v) for v in ("1", "2")}
    stored = [file_store.decisions.get(pid) for pid in list(by_parcel)[::10]]
    for row in stored:
        assert row is not None
        if row.model_version is None:
            continue
        expected = loaded[row.model_version].score_rows([logged_row(row.features)])[0]  # type: ignore[arg-type]
        assert row.score == round(float(expected), 6)
        if row.model_version == "1":
            assert row.shadow_version == "2" and row.shadow_score is not None
