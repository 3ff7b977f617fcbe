"""Time the screener's queue and the supervisor's hub list on a seeded store (the field pages' added queries:
the parcel's rank in its hub's day, the backlog's age, throughput).

    .venv/bin/python scripts/bench_queue_pages.py --decisions 300000 [--database-url URL]

Seeds N decisions over 30 days across three hubs (5% flagged, a third of those still pending), then reports the
median and worst of 20 calls of each endpoint. A figure for the docs, not an assertion.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from models.manifest import Decision
from scoring.api.app import create_app
from scoring.db import make_engine
from scoring.store import DecisionRecord, Store
from scoring.store.rows import Hub
from tests.conftest import make_settings
from tests.scoring.api_support import record

HUBS = ("HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA")


def seed(store: Store, n: int, days: int = 30) -> None:
    rng = random.Random(7)
    template = record("TEMPLATE")
    now = datetime.now(UTC)
    batch: list[DecisionRecord] = []
    for i in range(n):
        at = now - timedelta(seconds=rng.uniform(0, days * 86400) * (i / n) ** 0.2)
        flagged = rng.random() < 0.05
        decision = Decision(parcel_id=f"B{i:09d}", hub_id=rng.choice(HUBS), action="SCREEN" if flagged else "RELEASE",
                            why="model", score=rng.betavariate(1, 30), propensity=1.0, model_name="m",
                            model_version="1", reasons=template.decision.reasons, decided_at=at)
        batch.append(replace(template, decision=decision, accepted_at=at))
        if len(batch) == 5000:
            store.decisions.record(batch, {})
            batch.clear()
    if batch:
        store.decisions.record(batch, {})


def timed(client: TestClient, path: str, headers: dict[str, str], calls: int = 20) -> tuple[float, float]:
    spent = []
    for _ in range(calls):
        start = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        spent.append(time.perf_counter() - start)
    return statistics.median(spent), max(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=300_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    settings = make_settings(folder, args.database_url)
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    for hub in HUBS:
        store.hubs.save(Hub(hub, hub, "Asia/Shanghai", 60), actor="bench")
    started = time.perf_counter()
    seed(store, args.decisions)
    print(f"seeded {store.decisions.count()} decisions in {time.perf_counter() - started:.0f} s")
    store.access.add_key("s", "screener", "tok-s", HUBS[0])
    store.access.add_key("a", "analyst", "tok-a")
    with TestClient(create_app(settings, store)) as client:
        for path, token in ((f"/api/hubs/{HUBS[0]}/queue", "tok-s"), ("/api/hubs", "tok-a")):
            median, worst = timed(client, path, {"Authorization": f"Bearer {token}"})
            print(f"{path}: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms (20 calls)")


if __name__ == "__main__":
    main()
