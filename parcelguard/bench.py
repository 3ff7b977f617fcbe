"""``parcelguard bench``: the scorer's throughput, latency and memory against a bare consumer, in one run.

Everything runs on this machine on embedded parts: a Tansu broker, a SQLite store and an MLflow
registry in a temporary folder, a champion bootstrapped from a small generated history, and manifests
generated as the days after that history. Measured in the same run (ratios are what compare across
runs on a shared machine):

1. a bare kafka-python consumer (same client settings, a sync commit per poll) drains the topic, and
   so do two relays that do only part of a scorer's work: one publishes a small record per manifest
   and waits for the broker's acknowledgements before each commit, the other also validates each
   manifest against the contract (``parse_manifest``). They are the ceiling on the ratio to the bare
   consumer that any scorer built on these clients can reach on this machine;
2. one ``parcelguard score`` process drains the same records: sustained manifests/s (5%→95% decided),
   every decision stored, published and every SCREEN explained, its ratio to the relay (the floor any
   scorer on these clients pays), and its peak RSS;
3. at half that rate, then at 80% of it, each for ``latency_s``, latency from the hub's send to the
   published decision (p50/p95/p99);
4. 1, 2 and 3 scorer processes in one group on a 6-partition topic: rate, and a check that no manifest
   was lost or decided twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models import topics
from parcelguard.config import Settings
from streams import clients
from streams.broker import EmbeddedBroker
from streams.produce import publish
from streams.validate import Rejected, parse_manifest

GROUP_PARTITIONS = 6


@dataclass
class BenchResult:
    manifests: int
    bare_consumer_msgs_per_s: float = 0.0
    relay_msgs_per_s: float = 0.0  # consume, publish one record each, acknowledged, commit: no scoring
    validate_relay_msgs_per_s: float = 0.0  # the same, validating each manifest as the scorer does
    scorer_msgs_per_s: float = 0.0
    ratio_to_bare_consumer: float = 0.0
    ratio_to_relay: float = 0.0  # the target's measure: the relay is what consuming and publishing cost alone
    half_load_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    latency_samples: int = 0
    load80_rate: float = 0.0  # the same latency at 80% of the scorer's rate
    load80_p50_ms: float = 0.0
    load80_p95_ms: float = 0.0
    load80_p99_ms: float = 0.0
    load80_samples: int = 0
    peak_rss_mb: float = 0.0
    screened_share: float = 0.0
    scorer_seconds_by_step: dict[str, float] = field(default_factory=dict)  # over the drain and both latency runs
    scorer_records_consumed: int = 0  # by the scorer over those seconds: µs per record = seconds / records
    group: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _ScorerProcess:
    def __init__(self, settings: Settings, bootstrap: str, group: str, log: Path) -> None:
        env = dict(os.environ)
        env.update({"PARCELGUARD_DATA_DIR": str(settings.data_dir), "PARCELGUARD_DATABASE_URL": settings.database_url,
                    "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri, "PARCELGUARD_KAFKA_BOOTSTRAP": bootstrap,
                    "PARCELGUARD_HASH_KEY": settings.hash_key.get_secret_value(),
                    "PARCELGUARD_CONFIG": str(settings.data_dir / "none.toml")})
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "parcelguard.cli", "score", "--group", group],
                                            env=env, stdout=out, stderr=subprocess.STDOUT)

    def peak_rss_mb(self) -> float:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _live_manifests(history_days: int, per_day: int, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """The ``n`` manifests that follow the bootstrap history, renamed so every run's ids are fresh."""
    from training.world.generate import WorldConfig, generate

    days = history_days + 1 + n // max(1, per_day)
    live = (m for m, truth in generate(WorldConfig(days=days, parcels_per_day=per_day, seed=seed))
            if truth["day"] >= history_days)
    return list(islice(live, n))


def _bootstrap(settings: Settings, history_days: int, per_day: int, say: Callable[[str], None]) -> None:
    from scoring.db import make_engine
    from scoring.store import Store
    from training import pipeline
    from training.world.generate import WorldConfig, write_world

    say(f"training a champion on a generated {history_days}-day history ({history_days * per_day} parcels)")
    files = write_world(WorldConfig(days=history_days, parcels_per_day=per_day, seed=7), settings.data_dir / "world")
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    result = pipeline.bootstrap(settings, store, files.manifests, files.outcomes)
    if not result.comparison.promoted:
        from models import registry

        registry.set_alias(settings.model_name, "champion", result.comparison.challenger_version)
    store.engine.dispose()


RELAY_TOPIC = "parcel.bench.relay"


def bare_consumer_rate(bootstrap: str, expected: int, relay: bool = False, validate: bool = False) -> float:
    """How fast kafka-python alone drains the topic: poll, then a sync commit per poll, as the scorer does.

    With ``relay``, each record is also answered by a small record on ``RELAY_TOPIC`` and the broker's
    acknowledgements are awaited before the commit; with ``validate``, each manifest is validated first.
    """
    consumer = clients.consumer(bootstrap, f"bare-{uuid.uuid4().hex[:6]}", topics.MANIFESTS)
    producer = clients.producer(bootstrap) if relay else None
    seen, started = 0, 0.0
    deadline = time.monotonic() + 300
    try:
        while seen < expected and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=500, max_records=1000)
            if polled and not started:
                started = time.monotonic()
            for records in polled.values():
                seen += len(records)
                if producer is not None:
                    for record in records:
                        if validate and isinstance(parse_manifest(record.value, 1 << 20), Rejected):
                            raise ValueError(f"the bench produced an invalid manifest at offset {record.offset}")
                        producer.send(RELAY_TOPIC, key=record.key, value=b'{"action":"RELEASE"}')
            if polled:
                if producer is not None:
                    producer.flush()
                consumer.commit()
        elapsed = time.monotonic() - started
    finally:
        consumer.close(autocommit=False)
        if producer is not None:
            producer.close()
    return seen / elapsed if started and elapsed > 0 else 0.0


def _count(settings: Settings) -> Callable[[], int]:
    from scoring.db import make_engine
    from scoring.store import Store

    store = Store(make_engine(settings.database_url))
    store.create_schema()
    return store.decisions.count


def _drain_rate(count: Callable[[], int], total: int, timeout_s: float = 900) -> float:
    """Sustained decisions/s between 5% and 95% of ``total`` decided (start-up and tail left out)."""
    marks: dict[float, float] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = count()
        now = time.monotonic()
        for share in (0.05, 0.95):
            if share not in marks and done >= share * total:
                marks[share] = now
        if done >= total:
            break
        time.sleep(0.25)
    if len(marks) < 2 or marks[0.95] <= marks[0.05]:
        return 0.0
    return 0.9 * total / (marks[0.95] - marks[0.05])


def _decision_reader(bootstrap: str, wanted: set[str], received: dict[str, float], stop: threading.Event) -> None:
    consumer = clients.consumer(bootstrap, f"lat-{uuid.uuid4().hex[:6]}", topics.DECISIONS)
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                now = time.monotonic()
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key in wanted and key not in received:
                        received[key] = now
    finally:
        consumer.close(autocommit=False)


def latency_at(bootstrap: str, items: list[dict[str, Any]], rate: float) -> np.ndarray:
    """Milliseconds from the hub's send to the published decision, at ``rate`` manifests/s."""
    wanted = {m["parcel_id"] for m in items}
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    stop = threading.Event()
    reader = threading.Thread(target=_decision_reader, args=(bootstrap, wanted, received, stop), daemon=True)
    reader.start()
    time.sleep(4.0)  # the reader's group join (docs/broker-notes.md, defect 1)

    def stamp(i: int) -> None:
        sent[items[i]["parcel_id"]] = time.monotonic()

    publish(bootstrap, items, rate=rate, on_send=stamp)
    deadline = time.monotonic() + 60
    while len(received) < len(wanted) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    reader.join(10)
    return np.array([(received[p] - sent[p]) * 1000 for p in received if p in sent])


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'bench.db'}",
                    mlflow_tracking_uri=f"sqlite:///{data_dir / 'mlflow.db'}")


def _fresh_db(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"database_url": f"sqlite:///{settings.data_dir / name}"})


def benchmark(total: int = 60_000, history_days: int = 8, per_day: int = 3000, latency_s: float = 20.0,
              group_total: int = 30_000, say: Callable[[str], None] = print) -> BenchResult:
    result = BenchResult(manifests=total)
    with tempfile.TemporaryDirectory(prefix="parcelguard-bench-") as tmp:
        settings = _settings(Path(tmp))
        from models import registry

        registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
        _bootstrap(settings, history_days, per_day, say)
        live = _live_manifests(history_days, per_day, total + group_total + 40_000)
        main, rest = live[:total], iter(live[total:])
        logs = settings.data_dir / "logs"
        logs.mkdir()

        with EmbeddedBroker(log_path=logs / "tansu.log") as broker:
            clients.ensure_topics(broker.bootstrap, 3)
            say(f"producing {total} manifests")
            publish(broker.bootstrap, main)
            say("bare kafka-python consumer draining the topic")
            result.bare_consumer_msgs_per_s = bare_consumer_rate(broker.bootstrap, total)
            say("relays draining the same records: publish and commit only, then validating as well")
            clients.ensure_topics(broker.bootstrap, 3, [RELAY_TOPIC])
            result.relay_msgs_per_s = bare_consumer_rate(broker.bootstrap, total, relay=True)
            result.validate_relay_msgs_per_s = bare_consumer_rate(broker.bootstrap, total, relay=True, validate=True)

            say("one scorer process draining the same records")
            scorer = _ScorerProcess(settings, broker.bootstrap, "bench", logs / "scorer.log")
            try:
                count = _count(settings)
                result.scorer_msgs_per_s = _drain_rate(count, total)
                result.ratio_to_bare_consumer = result.scorer_msgs_per_s / max(1e-9, result.bare_consumer_msgs_per_s)
                result.ratio_to_relay = result.scorer_msgs_per_s / max(1e-9, result.relay_msgs_per_s)
                result.screened_share = _screened_share(settings)
                result.half_load_rate = max(1.0, result.scorer_msgs_per_s / 2)
                result.load80_rate = max(1.0, result.scorer_msgs_per_s * 0.8)
                # The group runs take theirs first, so they are the same size whatever the rate.
                rest_items = list(rest)
                group_items, spare = rest_items[:group_total], rest_items[group_total:]
                half = _latency(broker.bootstrap, spare, result.half_load_rate, latency_s, "half", result, say)
                result.p50_ms, result.p95_ms, result.p99_ms, result.latency_samples = half
                busy = _latency(broker.bootstrap, spare, result.load80_rate, latency_s, "80pct", result, say)
                result.load80_p50_ms, result.load80_p95_ms, result.load80_p99_ms, result.load80_samples = busy
                result.peak_rss_mb = scorer.peak_rss_mb()
            finally:
                scorer.stop()
            result.scorer_seconds_by_step, result.scorer_records_consumed = _last_progress(logs / "scorer.log")

        for k in (1, 2, 3):
            say(f"{k} scorer process(es) in one group, {GROUP_PARTITIONS} partitions, {len(group_items)} manifests")
            result.group.append(_group_run(settings, k, group_items, logs))
    return result


def _latency(bootstrap: str, spare: list[dict[str, Any]], rate: float, seconds: float, tag: str,
             result: BenchResult, say: Callable[[str], None]) -> tuple[float, float, float, int]:
    """p50, p95, p99 (ms) and samples of ``seconds`` of manifests sent at ``rate``; ids made fresh per run."""
    n = max(200, int(rate * seconds))
    items = [{**spare[i % len(spare)], "parcel_id": f"{spare[i % len(spare)]['parcel_id']}-{tag}{i // len(spare)}"}
             for i in range(n)]
    say(f"latency at {rate:.0f}/s: {n} manifests over {n / rate:.0f} s")
    latencies = latency_at(bootstrap, items, rate)
    if len(latencies) < n:
        result.notes.append(f"latency at {rate:.0f}/s: {n - len(latencies)} of {n} decisions not seen within 60 s")
    if not len(latencies):
        return 0.0, 0.0, 0.0, 0
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return float(p50), float(p95), float(p99), len(latencies)


def rows(result: BenchResult) -> list[tuple[str, str, str]]:
    """The bench's table: measure, value, target."""
    bare = max(1e-9, result.bare_consumer_msgs_per_s)
    out = [
        ("bare kafka-python consumer, msgs/s", f"{result.bare_consumer_msgs_per_s:,.0f}", ""),
        ("relay: consume, publish, commit (no scoring), msgs/s; ratio to bare",
         f"{result.relay_msgs_per_s:,.0f}; {result.relay_msgs_per_s / bare:.2f}", ""),
        ("relay that also validates each manifest, msgs/s; ratio to bare",
         f"{result.validate_relay_msgs_per_s:,.0f}; {result.validate_relay_msgs_per_s / bare:.2f}", ""),
        ("one scorer process, manifests/s", f"{result.scorer_msgs_per_s:,.0f}", ""),
        ("ratio to the relay", f"{result.ratio_to_relay:.3f}", "≥ 0.5"),
        ("ratio to bare consumer", f"{result.ratio_to_bare_consumer:.3f}", ""),
        (f"latency at {result.half_load_rate:,.0f}/s (half): p50 / p95 / p99 ms",
         f"{result.p50_ms:.0f} / {result.p95_ms:.0f} / {result.p99_ms:.0f}", "p99 < 250"),
        (f"latency at {result.load80_rate:,.0f}/s (80%): p50 / p95 / p99 ms",
         f"{result.load80_p50_ms:.0f} / {result.load80_p95_ms:.0f} / {result.load80_p99_ms:.0f}", "p99 < 1000"),
        ("scorer peak RSS, MB", f"{result.peak_rss_mb:.0f}", "< 600"),
        ("share of decisions SCREEN (all explained)", f"{result.screened_share:.1%}", ""),
        (f"scorer seconds by step ({result.scorer_records_consumed:,} records; µs per record)", ", ".join(
            f"{k} {v:.1f} ({v * 1e6 / max(1, result.scorer_records_consumed):.0f})"
            for k, v in sorted(result.scorer_seconds_by_step.items(), key=lambda kv: -kv[1])), ""),
    ]
    for run in result.group:
        out.append((f"{run['scorers']} scorer(s) in one group: manifests/s; lost; decided twice",
                    f"{run['msgs_per_s']:,.0f}; {run['lost']}; {run['decided_twice']}", "0 lost, 0 twice"))
    return out


def _last_progress(log: Path) -> tuple[dict[str, float], int]:
    """Where the scorer's time went, and over how many records (its last 'scorer progress' log line)."""
    seconds: dict[str, float] = {}
    consumed = 0
    for line in log.read_text(errors="replace").splitlines():
        if '"scorer progress"' in line:
            progress = orjson.loads(line)
            seconds, consumed = progress.get("seconds", {}), int(progress.get("consumed", 0))
    return seconds, consumed


def _screened_share(settings: Settings) -> float:
    from sqlalchemy import func, select

    from scoring.db import decisions, make_engine

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(decisions)).scalar_one()
        screened = conn.execute(select(func.count()).select_from(decisions).where(
            decisions.c.action == "SCREEN")).scalar_one()
    engine.dispose()
    return float(screened) / max(1, int(total))


def _group_run(settings: Settings, k: int, items: list[dict[str, Any]], logs: Path) -> dict[str, Any]:
    """k scorer processes in one group over a backlog: rate, and whether any manifest was lost or decided twice."""
    run_settings = _fresh_db(settings, f"group-{k}.db")
    count = _count(run_settings)
    with EmbeddedBroker(log_path=logs / f"tansu-group-{k}.log") as broker:
        clients.ensure_topics(broker.bootstrap, GROUP_PARTITIONS)
        publish(broker.bootstrap, items)
        scorers = [_ScorerProcess(run_settings, broker.bootstrap, "group", logs / f"group-{k}-{i}.log")
                   for i in range(k)]
        try:
            rate = _drain_rate(count, len(items))
            published = _read_decisions(broker.bootstrap, len(items))
            rss = max(s.peak_rss_mb() for s in scorers)
        finally:
            for scorer in scorers:
                scorer.stop()
    wanted = {m["parcel_id"] for m in items}
    copies: dict[str, set[tuple[Any, ...]]] = {}
    for decision in published:
        copies.setdefault(decision["parcel_id"], set()).add((decision["action"], decision["why"], decision["score"]))
    return {
        "scorers": k, "msgs_per_s": round(rate, 1), "stored": count(), "manifests": len(items),
        "lost": len(wanted - set(copies)), "decided_twice": sum(1 for c in copies.values() if len(c) > 1),
        "published_records": len(published), "peak_rss_mb": round(rss, 1),
    }


def _read_decisions(bootstrap: str, expected: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    consumer = clients.consumer(bootstrap, f"check-{uuid.uuid4().hex[:6]}", topics.DECISIONS)
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    try:
        while time.monotonic() < deadline and len(seen) < expected:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    decision = orjson.loads(record.value)
                    out.append(decision)
                    seen.add(decision["parcel_id"])
    finally:
        consumer.close(autocommit=False)
    return out


def as_json(result: BenchResult) -> bytes:
    return orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_DATACLASS)
