"""Readiness: may this process take work now? The database, the broker and the model, each checked on its own.

The API's ``/readyz`` and the scorer's metrics port both answer from a ``Readiness``. Results are kept
for a few seconds, so a probe every second neither hammers the database nor waits out a broker timeout
each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models import topics

if TYPE_CHECKING:
    from scoring.engine import ModelSource
    from scoring.store import Store

LIVE_SCORER = timedelta(seconds=30)  # a scorer heartbeats every ~2 s; silent for this long, it is gone
NEEDED_TOPICS = (topics.MANIFESTS, topics.DECISIONS, topics.MANIFESTS_DLQ)


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


def _error(exc: BaseException) -> str:
    name, message = type(exc).__name__, (str(exc).splitlines() or [""])[0]
    return (message if message.startswith(name) else f"{name}: {message}")[:300]


def _probe(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # WAL readers never wait, so SELECT 1 answers beside a writer that holds the lock for minutes:
            # ask for the write lock instead (released at once; bounded by the busy timeout).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execute(text("SELECT 1"))


class _DatabaseProbe:
    """One probe at a time on a thread of its own, waited for at most ``timeout_s``: a frozen server (which
    honours no statement timeout) makes the check say not ready instead of hanging the probe endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[float, threading.Thread, list[BaseException]]] = {}

    def __call__(self, engine: Engine, timeout_s: float) -> Check:
        with self._lock:
            running = self._running.get(id(engine))
            if running is not None and running[1].is_alive():
                return Check(False, f"database unavailable: no answer for {time.monotonic() - running[0]:.0f} s")
            errors: list[BaseException] = []

            def probe() -> None:
                try:
                    _probe(engine)
                except Exception as exc:
                    errors.append(exc)

            thread = threading.Thread(target=probe, name="readiness-database", daemon=True)
            self._running[id(engine)] = (time.monotonic(), thread, errors)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            return Check(False, f"database unavailable: no answer within {timeout_s:.0f} s")
        if errors:
            return Check(False, f"database unavailable: {_error(errors[0])}")
        return Check(True, "database answers")


_database_probe = _DatabaseProbe()


def database(engine: Engine, timeout_s: float = 5.0) -> Check:
    return _database_probe(engine, timeout_s)


def progress(stalled_for_s: float, last_failure: str | None, limit_s: float) -> Check:
    """For a scorer: the batch in hand has not been failing or stuck for longer than ``limit_s``."""
    if stalled_for_s > limit_s:
        why = f"; last error: {last_failure}" if last_failure else ""
        return Check(False, f"no batch committed for {stalled_for_s:.0f} s (limit {limit_s:.0f} s){why}")
    return Check(True, "batches are being committed")


def broker(bootstrap: str, timeout_s: float = 2.0, needed: tuple[str, ...] = NEEDED_TOPICS) -> Check:
    """The broker answers a metadata request and carries the contract topics."""
    from kafka import KafkaAdminClient

    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="parcelguard-readiness",
                                 request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
        try:
            present = set(admin.list_topics())
        finally:
            admin.close()
    except Exception as exc:
        return Check(False, f"broker {bootstrap} unavailable: {_error(exc)}")
    missing = [name for name in needed if name not in present]
    if missing:
        return Check(False, f"broker {bootstrap} answers but lacks topic(s) {', '.join(missing)}")
    return Check(True, f"broker {bootstrap} answers with the contract topics")


def model_loaded(models: ModelSource) -> Check:
    """For a scorer: it holds a model (without one it is in fail-safe, screening every in-scope parcel)."""
    model = models.current
    if model is None:
        error = f" ({models.last_error})" if models.last_error else ""
        return Check(False, f"no model in service: fail-safe{error}")
    return Check(True, f"{model.name} version {model.version} in service")


def model_in_service(store: Store, now: datetime | None = None) -> Check:
    """For the API: live scorers report a model in service and none is in fail-safe."""
    now = now or datetime.now(UTC)
    try:
        live = [w for w in store.workers.statuses()
                if w.kind == "scorer" and w.heartbeat_at and now - w.heartbeat_at < LIVE_SCORER]
    except Exception as exc:
        return Check(False, f"cannot read scorer status: {_error(exc)}")
    if not live:
        return Check(False, f"no scorer has reported in the last {LIVE_SCORER.total_seconds():.0f} s")
    failing = [w.worker_id for w in live if w.fail_safe or not w.model_version]
    if failing:
        return Check(False, f"{len(failing)} of {len(live)} scorer(s) in fail-safe (no model): {', '.join(failing)}")
    versions = sorted({str(w.model_version) for w in live})
    return Check(True, f"{len(live)} scorer(s) serving model version(s) {', '.join(versions)}")


class Readiness:
    """Named checks run at most once per ``ttl_s``; ready when every one passes."""

    def __init__(self, checks: Mapping[str, Callable[[], Check]], ttl_s: float = 5.0) -> None:
        self.checks = dict(checks)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, Check]] = {}

    def report(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        results: dict[str, Check] = {}
        with self._lock:  # concurrent probes share one round of checks
            for name, check in self.checks.items():
                cached = self._cached.get(name)
                if cached is None or now - cached[0] >= self.ttl_s:
                    try:
                        result = check()
                    except Exception as exc:  # a check that breaks says not ready, with why
                        result = Check(False, f"check failed: {_error(exc)}")
                    cached = (now, result)
                    self._cached[name] = cached
                results[name] = cached[1]
        ready = all(result.ok for result in results.values())
        checks = {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()}
        return ready, {"ready": ready, "checks": checks}
