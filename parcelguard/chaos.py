"""`parcelguard chaos` (`make chaos`): every kind of poison sent mid-stream through a live scorer.

For each kind, good manifests go before and after one poison record on the embedded broker; a real
``StreamScorer`` decides them. The run then reads the decision and dead-letter topics and the store, and
counts per kind: was the poison dead-lettered (and with which code), how many good records were decided,
lost, or decided twice (two published copies with different ``decided_at``, or more than one stored
row). The expected result is every good record decided, 0 lost, 0 twice. The poison catalogue is also
the one the stream tests use, so the chaos run and the tests cannot drift apart.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from models import topics
from parcelguard.config import Settings
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams import clients
from streams.scorer import StreamScorer

TEN_MB = 10 * 1024 * 1024
TEMPLATE: dict[str, Any] = {
    "schema_version": 1, "parcel_id": "CH0", "carrier": "JT", "hub_id": "HAK-MEILAN",
    "accepted_at": "2026-11-20T21:14:05+08:00",
    "origin": {"province": "Yunnan", "city": "Kunming"},
    "destination": {"province": "Hainan", "city": "Haikou"},
    "sender": {"phone": "13800138000", "account_id": "ACC-1"},
    "contents": {"description": "tea", "declared_value": 120.0},
    "weight_g": 1850, "pieces": 1,
}


@dataclass(frozen=True, slots=True)
class PoisonKind:
    """One poison record, the code it should be dead-lettered with (None: it is not poison on this store)."""

    name: str
    value: bytes
    code: str | None
    needs_first: dict[str, Any] | None = None  # a good manifest that must be decided before it (a conflict)


@dataclass(frozen=True, slots=True)
class KindResult:
    kind: str
    dead_lettered: bool
    code: str | None
    expected_code: str | None
    good_sent: int
    good_decided: int
    lost: int
    decided_twice: int

    @property
    def ok(self) -> bool:
        return (self.dead_lettered == (self.expected_code is not None) and self.code == self.expected_code
                and self.lost == 0 and self.decided_twice == 0 and self.good_decided == self.good_sent)


def manifest(parcel_id: str, **changes: Any) -> dict[str, Any]:
    """A valid manifest; ``changes`` use ``section__field`` for nested fields."""
    result = copy.deepcopy(TEMPLATE)
    result["parcel_id"] = parcel_id
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            result[section][name] = value
        else:
            result[key] = value
    return result


def poison_kinds(postgres: bool, prefix: str = "PZ") -> list[PoisonKind]:
    """The poison issue 13 found, each as it would arrive from a hub."""
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    first = manifest(f"{prefix}-DUP", hub_id="HAK-MEILAN")
    return [
        PoisonKind("10 MB record", orjson.dumps(manifest(f"{prefix}-HUGE", contents__description="x" * TEN_MB)),
                   "oversize"),
        PoisonKind("year-1 accepted_at",
                   orjson.dumps(manifest(f"{prefix}-Y1", accepted_at="0001-01-01T00:00:00+14:00")), "invalid_field"),
        PoisonKind("accepted_at 3 days ahead", orjson.dumps(manifest(f"{prefix}-FUT", accepted_at=future)),
                   "invalid_field"),
        PoisonKind("hub id with a space", orjson.dumps(manifest(f"{prefix}-SPACE", hub_id="HAK MEILAN")),
                   "invalid_field"),
        PoisonKind("NUL in hub id", orjson.dumps(manifest(f"{prefix}-NULHUB", hub_id="HAK\x00MEILAN")),
                   "invalid_field"),
        # Passes validation; PostgreSQL refuses NUL in a text column, SQLite stores it (not poison there).
        PoisonKind("NUL in origin province", orjson.dumps(manifest(f"{prefix}-NULPROV", origin__province="Yun\x00nan")),
                   "unprocessable" if postgres else None),
        PoisonKind("parcel id of another hub", orjson.dumps(dict(first, hub_id="SYX-TIANYA")),
                   "parcel_id_conflict", needs_first=first),
    ]


def _big_producer(bootstrap: str) -> KafkaProducer:
    return clients.producer(bootstrap, max_request_size=2 * TEN_MB)


def run_chaos(settings: Settings, store: Store, bootstrap: str, *, good_per_kind: int = 40,
              postgres: bool = False, timeout_s: float = 120.0,
              say: Callable[[str], None] = lambda _: None) -> list[KindResult]:
    """Send every poison kind mid-stream through one live scorer on ``bootstrap``; count what came out."""
    clients.ensure_topics(bootstrap, settings.partitions)
    run = uuid.uuid4().hex[:6].upper()
    kinds = poison_kinds(postgres, prefix=f"PZ{run}")
    good: dict[str, list[str]] = {}
    consumed_before = 0  # records a first scorer consumed (and committed) before the conflict was sent
    producer = _big_producer(bootstrap)
    for k, kind in enumerate(kinds):
        batch = [manifest(f"G{run}-{k}-{i:04d}", accepted_at=f"2026-11-20T{8 + i % 10:02d}:00:00+08:00")
                 for i in range(good_per_kind)]
        if kind.needs_first is not None:
            batch.insert(0, kind.needs_first)
        good[kind.name] = [m["parcel_id"] for m in batch]
        half = len(batch) // 2
        for item in batch[:half]:
            producer.send(topics.MANIFESTS, key=item["parcel_id"].encode(), value=orjson.dumps(item))
        if kind.needs_first is not None:
            producer.flush()  # the first hub's manifest is decided before the conflicting one arrives
            consumed_before += _wait_decided(store, [kind.needs_first["parcel_id"]], bootstrap, settings, timeout_s)
        producer.send(topics.MANIFESTS, key=f"poison-{run}-{k}".encode(), value=kind.value)
        for item in batch[half:]:
            producer.send(topics.MANIFESTS, key=item["parcel_id"].encode(), value=orjson.dumps(item))
    producer.flush()
    producer.close()
    say(f"sent {len(kinds)} poison kinds and {sum(map(len, good.values()))} good manifests")

    with _scorer(settings, store, bootstrap) as stream:
        everything = [pid for ids in good.values() for pid in ids]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (
                consumed_before + stream.counters.consumed < len(everything) + len(kinds)
                or store.decisions.count() < len(everything)):
            time.sleep(0.2)
    published = _read_all(bootstrap, topics.DECISIONS)
    dead = _read_all(bootstrap, topics.MANIFESTS_DLQ)
    copies: dict[str, set[str]] = defaultdict(set)
    for record in published:
        decision = orjson.loads(record.value)
        copies[decision["parcel_id"]].add(decision["decided_at"])
    codes = {record.key.decode(errors="replace"): dict(record.headers).get("reason_code", b"").decode()
             for record in dead if record.key}
    results = []
    for k, kind in enumerate(kinds):
        ids = good[kind.name]
        code = codes.get(f"poison-{run}-{k}")
        decided = [pid for pid in ids if pid in copies]
        stored = store.decisions.existing(ids)
        results.append(KindResult(
            kind=kind.name, dead_lettered=code is not None, code=code, expected_code=kind.code,
            good_sent=len(ids), good_decided=len(decided),
            lost=sum(1 for pid in ids if pid not in copies or pid not in stored),
            decided_twice=sum(1 for pid in ids if len(copies.get(pid, ())) > 1)))
    return results


def _wait_decided(store: Store, ids: list[str], bootstrap: str, settings: Settings, timeout_s: float) -> int:
    """Run a scorer until ``ids`` are decided; how many records it consumed and committed."""
    with _scorer(settings, store, bootstrap) as stream:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(store.decisions.existing(ids)) < len(ids):
            time.sleep(0.2)
    return stream.counters.consumed


class _scorer:  # lower case: read as a context-manager function at its call sites
    """A StreamScorer on a thread of its own for a ``with`` block, in the scorers' group."""

    def __init__(self, settings: Settings, store: Store, bootstrap: str) -> None:
        self.stream = StreamScorer(Scorer(settings, store, ModelSource.fixed(None)), store, bootstrap,
                                   f"chaos-{settings.consumer_group}", max_manifest_bytes=settings.max_manifest_bytes)
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="chaos-scorer", daemon=True)

    def _run(self) -> None:
        try:
            self.stream.run()
        except BaseException as exc:  # surfaced when the block ends, not lost on the thread
            self.errors.append(exc)

    def __enter__(self) -> StreamScorer:
        self.thread.start()
        return self.stream

    def __exit__(self, *_: object) -> None:
        self.stream.stop()
        self.thread.join(60)
        if self.errors:
            raise self.errors[0]


def _read_all(bootstrap: str, topic: str) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=3000,
                             fetch_max_bytes=4 * TEN_MB, max_partition_fetch_bytes=4 * TEN_MB)
    try:
        return list(consumer)
    finally:
        consumer.close()


def as_json(results: list[KindResult]) -> bytes:
    return orjson.dumps({"kinds": [asdict(r) | {"ok": r.ok} for r in results],
                         "ok": all(r.ok for r in results)}, option=orjson.OPT_INDENT_2)
