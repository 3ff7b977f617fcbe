"""Where one scorer's time goes, in-process and without a broker (the per-step figures in docs/performance-2026-11.md).

Trains the bench's champion once (kept in ``--dir``), then runs ``Scorer.process`` over the bench's live manifests
in batches on a fresh copy of the seeded SQLite store, and prints wall and CPU µs per manifest, the store's share
(reading entity stats; inserting decisions, upserting stats and committing) and the garbage collector's. ``--gc
tuned`` applies what ``parcelguard score`` does at start (``streams.collector.tune_gc_for_batches``); ``--profile``
adds a cProfile listing; ``--no-store`` runs the scorer without a store (entity and field stats in its memory,
nothing written): what deciding costs when storage is free, the floor for the ratio target; ``--steps`` times the
steps every scorer pays whatever its store (validating, redacting and hashing, building features, encoding, the
trees, the policy, explanations) and the trees alone on the whole set at once, their cheapest. It measures the
checkout it is run from, so an earlier commit compares in the same
conditions (``git archive c4b6a2c | tar -x -C /tmp/before && cd /tmp/before && python <this file>``).

    .venv/bin/python scripts/scorer_profile.py --manifests 10000 --batch 1000 --gc tuned
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, os.getcwd())  # the checkout being measured

from models import registry
from models.features import FeatureBuilder
from models.manifest import Manifest
from models.risk_model import Encoder, RiskModel
from parcelguard.bench import _bootstrap, _live_manifests, _settings
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.policy import DecisionPolicy
from scoring.store import Store
from streams.validate import Rejected, parse_manifest

try:  # checkouts from before issue 16 validate one manifest at a time and leave the collector as it is
    from streams.collector import tune_gc_for_batches
    from streams.validate import parse_manifests
except ImportError:
    def tune_gc_for_batches() -> None:
        raise SystemExit("this checkout has no tuned collector: run it with --gc default")

    def parse_manifests(  # the same contract, one manifest at a time
        values: Sequence[bytes | None], max_bytes: int
    ) -> list[tuple[Manifest, dict[str, Any]] | Rejected]:
        return [parse_manifest(v, max_bytes) for v in values]


class _Clock:
    """Seconds spent inside wrapped callables, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/parcelguard-scorer-profile"))
    parser.add_argument("--manifests", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--gc", choices=("default", "tuned"), default="default")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-store", action="store_true", help="stats in memory, nothing written")
    parser.add_argument("--steps", action="store_true", help="time the scorer's steps (class methods wrapped)")
    args = parser.parse_args()

    base = args.dir / "seeded"
    if not (base / "mlflow.db").exists():  # the bench's bootstrap: a champion and the entity history it seeds
        base.mkdir(parents=True, exist_ok=True)
        seeded = _settings(base)
        registry.configure(seeded.mlflow_tracking_uri, seeded.data_dir)
        _bootstrap(seeded, 8, 3000, print)
    cache = args.dir / f"live-{args.manifests}.jsonl"
    if not cache.exists():
        cache.write_bytes(b"\n".join(orjson.dumps(m) for m in _live_manifests(8, 3000, args.manifests)))
    work = args.dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    settings = _settings(work)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    store = Store(make_engine(settings.database_url))
    clock = _Clock()
    if args.no_store:
        scorer = Scorer(settings, None, ModelSource(settings.model_name))
        scorer.history.take(store.stats.load(_all_keys(store)))  # the seeded history, held in memory
    else:
        scorer = Scorer(settings, store, ModelSource(settings.model_name))
        store.stats.load = clock.wrap("read stats", store.stats.load)  # type: ignore[method-assign]
        store.decisions.record = clock.wrap("write and commit", store.decisions.record)  # type: ignore[method-assign]
    scorer.refresh_model(force=True)
    if args.steps:
        _time_steps(clock)
    collecting = {"since": 0.0, "seconds": 0.0}

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collecting["since"] = time.perf_counter()
        else:
            collecting["seconds"] += time.perf_counter() - collecting["since"]

    gc.callbacks.append(on_gc)
    if args.gc == "tuned":
        tune_gc_for_batches()
    values: list[bytes | None] = list(cache.read_bytes().split(b"\n"))
    profile = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    validate = 0.0
    for i in range(0, len(values), args.batch):
        t = time.perf_counter()
        parsed = parse_manifests(values[i : i + args.batch], settings.max_manifest_bytes)
        validate += time.perf_counter() - t
        scorer.process([p for p in parsed if not isinstance(p, Rejected)])
    if profile is not None:
        profile.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    n = len(values)
    parts = {"validate": validate, **clock.seconds, "garbage collector": collecting["seconds"]}
    store_note = ", no store" if args.no_store else ""
    print(f"{n} manifests in batches of {args.batch}, gc {args.gc}{store_note}: {wall / n * 1e6:.0f} µs wall, "
          f"{cpu / n * 1e6:.0f} µs CPU per manifest ({n / wall:,.0f}/s); of which "
          + ", ".join(f"{name} {s / n * 1e6:.0f} µs" for name, s in parts.items()))
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    if args.steps:
        _cheapest(scorer, values, settings.max_manifest_bytes, args.dir / "rows-only.db", args.batch)


def _time_steps(clock: _Clock) -> None:
    """Wrap the scorer's steps where they are defined, so every call (by any scorer) is timed."""
    steps = [
        (FeatureBuilder, "prepare", "redact, hash, fields"), (FeatureBuilder, "build", "feature rows"),
        (Encoder, "encode", "encode rows"), (RiskModel, "margins", "trees"),
        (DecisionPolicy, "choose", "policy"), (Scorer, "_explain", "explain SCREENs"),
    ]
    for owner, method, name in steps:
        setattr(owner, method, clock.wrap(name, getattr(owner, method)))


def _cheapest(scorer: Scorer, values: list[bytes | None], max_bytes: int, db: Path, batch: int) -> None:
    """Each unavoidable step at its cheapest here: parsing without validating, the trees on every row in one call,
    and the decision rows alone (no entity stats) inserted a batch per transaction into a fresh SQLite store."""
    model = scorer.models.current
    assert model is not None
    present = [v for v in values if v]
    parse = min(_seconds(lambda: [orjson.loads(v) for v in present]) for _ in range(3))
    parsed = [p for p in parse_manifests(values, max_bytes) if not isinstance(p, Rejected)]
    records = scorer.decide(parsed, scorer.history)
    X = model.encoder.encode([r.features for r in records if r.features is not None])
    trees = min(_seconds(lambda: model.margins(X)) for _ in range(3))
    db.unlink(missing_ok=True)
    store = Store(make_engine(f"sqlite:///{db}"))
    store.create_schema()
    chunks = [records[i : i + batch] for i in range(0, len(records), batch)]
    write = _seconds(lambda: [store.decisions.record(chunk, {}) for chunk in chunks])
    n = len(records)
    rows: list[bytes] = []
    features = _seconds(lambda: rows.extend(orjson.dumps(r.features, option=orjson.OPT_SERIALIZE_NUMPY)
                                            for r in records))
    manifests = _seconds(lambda: [orjson.dumps(r.manifest) for r in records])
    size = sum(map(len, rows)) / n
    print(f"cheapest, µs a manifest: parse JSON (orjson, no validation) {parse / len(present) * 1e6:.1f}, "
          f"trees in one call {trees / n * 1e6:.1f} ({model.booster.num_trees()} trees, {X.shape[1]} columns), "
          f"decision rows without stats {write / n * 1e6:.1f} (batches of {batch}), of which serialising the "
          f"feature row {features / n * 1e6:.1f} ({size:,.0f} bytes) and the redacted manifest "
          f"{manifests / n * 1e6:.1f}")


def _seconds(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _all_keys(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [str(key) for (key,) in conn.exec_driver_sql('SELECT "key" FROM entity_stats')]


if __name__ == "__main__":
    main()
