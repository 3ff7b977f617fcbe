"""The whole loop on real parts: Tansu broker, SQLite store, MLflow registry, FastAPI, LightGBM.

manifests produced → decisions stored and published with explanations → malformed input dead-lettered
→ outcomes recorded through the API → retraining registers a new model version.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models import registry, topics
from parcelguard import logs
from scoring.api.app import create_app
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.produce import publish
from streams.scorer import StreamScorer
from tests.conftest import make_settings
from tests.kafka_helpers import read_topic
from training import pipeline
from training.world.generate import WorldConfig, WorldFiles, generate

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
LIVE = 400


def _live_manifests(config: WorldConfig, n: int) -> list[dict[str, Any]]:
    later = WorldConfig(days=config.days + 1, parcels_per_day=config.parcels_per_day, seed=config.seed)
    return [m for m, truth in generate(later) if truth["day"] >= config.days][:n]


def test_manifests_to_decisions_to_outcomes_to_retrained_model(
    tmp_path: Path, world: WorldFiles, broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    logs.setup("DEBUG")  # the service's own logging set-up, at its most verbose
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path / "data")
    from scoring.db import make_engine

    store = Store(make_engine(settings.database_url))
    store.create_schema()

    first = pipeline.bootstrap(settings, store, world.manifests, world.outcomes)
    assert first.comparison.promoted and registry.alias_version(settings.model_name, "champion") == "1"

    from tests.worlds import SMALL

    live = _live_manifests(SMALL, LIVE)
    for n, m in enumerate(live):  # fields outside the contract, personal ones among them (redacted by allow-list)
        m["customer_name"], m["sender"]["email"] = f"Customer Name {n:04d}", f"private.{n:04d}@example.com"
    clients.ensure_topics(broker.bootstrap, partitions=2)
    stream = StreamScorer(Scorer(settings, store, ModelSource(settings.model_name)), store, broker.bootstrap,
                          "scorers", max_manifest_bytes=settings.max_manifest_bytes)
    worker = threading.Thread(target=stream.run)
    worker.start()
    try:
        poison = [b"{not json", orjson.dumps({"schema_version": 1, "parcel_id": "NOHUB"}), b"x" * 70_000]
        publish(broker.bootstrap, [*live[:200], *poison, *live[200:]])
        published = read_topic(broker.bootstrap, topics.DECISIONS, LIVE)
        dead = read_topic(broker.bootstrap, topics.MANIFESTS_DLQ, len(poison))
    finally:
        stream.stop()
        worker.join(30)

    decided = {orjson.loads(r.value)["parcel_id"] for r in published}
    assert decided == {m["parcel_id"] for m in live}
    assert store.decisions.count() == LIVE
    reasons = {dict(r.headers)["reason"].decode() for r in dead}
    assert len(dead) == 3 and any("invalid JSON" in r for r in reasons) and any("oversize" in r for r in reasons)
    assert any("hub_id" in r for r in reasons)

    screened = [orjson.loads(r.value) for r in published if orjson.loads(r.value)["action"] == "SCREEN"]
    assert screened, "a live stream at 5% capacity flags something"
    model_flags = [d for d in screened if d["why"] == "model"]
    assert model_flags and all(d["reasons"] and d["model_version"] == "1" for d in model_flags)

    # Screeners record outcomes through the API.
    store.access.add_key("screener-1", "screener", "secret-token", screened[0]["hub_id"])
    client = TestClient(create_app(settings, store))
    auth = {"Authorization": "Bearer secret-token"}
    hub = screened[0]["hub_id"]
    queue = client.get(f"/api/hubs/{hub}/queue", headers=auth).json()["items"]
    # A screener sees each parcel's place in the hub's day, not the model's score: the queue follows it.
    assert queue and all(i["score"] is None and i["propensity"] is None for i in queue)
    assert queue == sorted(queue, key=lambda i: (i["why"] != "rule", i["risk"]["rank"] if i["risk"] else 10**9))
    for item, result in zip(queue[:2], ("contraband", "clear"), strict=False):
        assert client.post(f"/api/parcels/{item['parcel_id']}/claim", headers=auth).status_code == 200
        body = {"result": result, "contraband_type": "methamphetamine" if result == "contraband" else None}
        assert client.post(f"/api/parcels/{item['parcel_id']}/outcome", json=body, headers=auth).status_code == 201
    remaining = {i["parcel_id"] for i in client.get(f"/api/hubs/{hub}/queue", headers=auth).json()["items"]}
    assert not remaining & {item["parcel_id"] for item in queue[:2]}
    labelled = [r for r in store.reads.labelled_rows() if r.label is not None]
    assert {r.parcel_id for r in labelled} == {item["parcel_id"] for item in queue[:2]}

    # Retraining on the decision log (plus the history) registers a new version.
    second = pipeline.retrain(settings, store, world.manifests, world.outcomes)
    assert second.comparison.challenger_version == "2"
    assert registry.alias_version(settings.model_name, "champion") in {"1", "2"}

    # Personal data reaches neither the decision records, the logs nor MLflow's artifacts.
    personal = {v for m in live for section in ("sender", "recipient") for k, v in m[section].items()
                if k in ("name", "phone", "id_number", "address") and v}
    personal |= {m["customer_name"] for m in live} | {m["sender"]["email"] for m in live}
    with store.engine.connect() as conn:
        from sqlalchemy import text

        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM decisions")))
    log_text = caplog.text
    artifacts = " ".join(p.read_text(errors="ignore") for p in (settings.data_dir / "mlartifacts").rglob("*")
                         if p.is_file() and p.suffix in {".json", ".md", ".txt", ".yaml", ""})
    for value in personal:
        assert value not in dump and value not in log_text and value not in artifacts
