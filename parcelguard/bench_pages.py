"""``parcelguard bench-pages``: each analyst page's time at a seeded store of a million decisions.

The store is seeded in bulk, in one transaction (SQLite: one driver-level executemany; PostgreSQL: COPY):
decisions spread evenly over ``days`` at three hubs, each carrying a feature row drawn from a pool made
like a training set (so folding decodes real JSON rows), the last ``shifted_days`` drawn from a shifted
pool (heavier parcels from a new origin: the drift the pages must name), outcomes for screened parcels,
an admin's capacity per hub, and a registered champion whose training reference is the unshifted pool.
Then the monitoring job's first pass folds the log (the backfill) and judges the closed windows, and
each page is fetched through an API started afresh (the process's caches dropped), once its warm-up is done:
first load, then the median of ``repeats``.

The Playwright test (tests/e2e/test_analyst_scale.py) seeds its store with the same ``seed_store``.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import orjson
from mlflow.tracking import MlflowClient
from sqlalchemy import text

from models import registry
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from parcelguard.config import Settings
from scoring.db import decisions, make_engine, outcomes
from scoring.monitoring import drift
from scoring.store import Store

HUBS = ("HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA")
POOL = 3000
PAGES = (
    ("drift, day windows", "/analyst/drift"),
    ("drift, hour windows", "/analyst/drift?granularity=hour"),
    ("drift, week windows", "/analyst/drift?granularity=week"),
    ("drift, one hub", f"/analyst/drift?hub={HUBS[0]}"),
    ("drift.json, day windows", "/analyst/drift.json"),
    ("drift.json, 14 days of hours", "/analyst/drift.json?days=14&granularity=hour"),
    ("drift.json, 181 days", "/analyst/drift.json?days=181"),
    ("models", "/analyst/models"),
    ("alerts.json", "/analyst/alerts.json"),
)
_DECISION_COLUMNS = ("parcel_id", "hub_id", "action", "why", "score", "propensity", "model_name", "model_version",
                     "reasons", "features", "manifest", "origin_province", "accepted_at", "decided_at", "status")
WARM_UP_WAIT_S = 120.0
_OUTCOME_COLUMNS = ("parcel_id", "screened_at", "result", "source", "recorded_by", "recorded_at")


@dataclass(frozen=True)
class Seeded:
    decisions: int
    outcomes: int
    first: datetime
    last: datetime
    seconds: float
    capacity_per_hour: int


def _pool(rng: np.random.Generator, n: int, shifted: bool) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Feature rows like a training set's (log-normal sizes, count histories, a few categories), and scores."""
    rows: list[dict[str, Any]] = []
    origins = ["Guangdong", "Zhejiang", "Fujian", "Jiangsu", "Hainan"] + (["Yunnan"] * 3 if shifted else [])
    for i in range(n):
        row: dict[str, Any] = {}
        for j, name in enumerate(NUMERIC_FEATURES):
            if name == "hour_local":
                row[name] = int(rng.integers(0, 24))
            elif name == "weekday":
                row[name] = int(rng.integers(0, 7))
            elif name in drift.CUMULATIVE:
                row[name] = None if rng.random() < 0.1 else int(rng.poisson(1.5 + j % 4))
            elif name in ("id_verified", "description_vague", "hs_code_present", "same_surname"):
                row[name] = int(rng.random() < 0.3)
            else:
                row[name] = round(float(rng.lognormal(1.0 + (j % 5) * 0.3, 0.6)) * (1.8 if shifted and j < 3 else 1), 4)
        for name in CATEGORICAL_FEATURES:
            row[name] = (HUBS[i % len(HUBS)] if name == "hub_id" else str(rng.choice(origins)) if
                         name == "origin_province" else f"{name}-{int(rng.integers(0, 6))}")
        rows.append(row)
    scores = np.round(rng.beta(0.6, 40, n) * (2.5 if shifted else 1.0), 6)
    return rows, np.clip(scores, 0, 1)


def register_champion(settings: Settings, seed: int = 7) -> dict[str, Any]:
    """Register version 1 of the model with the unshifted pool as its training reference; returns the reference."""
    rng = np.random.default_rng(seed)
    rows, scores = _pool(rng, 4000, shifted=False)
    reference = drift.profile(rows, scores)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    client = MlflowClient()
    with mlflow.start_run(run_name="bench-pages champion") as run:
        mlflow.log_dict({"reference": reference}, registry.SCHEMA_ARTIFACT)
        mlflow.log_metrics({"test_precision_at_capacity": 0.08, "test_recall_at_capacity": 0.6})
        mlflow.log_params({"capacity_share": settings.capacity_share})
    client.create_registered_model(settings.model_name)
    version = client.create_model_version(settings.model_name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(settings.model_name, "champion", version.version)
    return reference


def seed_store(store: Store, settings: Settings, total: int, days: int = 120, shifted_days: int = 2,
               seed: int = 7, end: datetime | None = None) -> Seeded:
    """``total`` decisions over ``days`` ending at ``end`` (default: now, on the hour) with outcomes and admin
    capacities, in bulk."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    normal, normal_scores = _pool(rng, POOL, shifted=False)
    shifted, shifted_scores = _pool(rng, POOL, shifted=True)
    encoded = [[orjson.dumps(r).decode() for r in normal], [orjson.dumps(r).decode() for r in shifted]]
    last = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(days=days)
    step = (last - first) / total
    shift_from = total - int(total * shifted_days / days)
    picks = rng.integers(0, POOL, total)
    explore = rng.random(total)
    found = rng.random(total)
    reasons, manifest = "[]", '{"redacted": true}'
    decision_rows: list[tuple[Any, ...]] = []
    outcome_rows: list[tuple[Any, ...]] = []
    for i in range(total):
        pool = 1 if i >= shift_from else 0
        k = int(picks[i])
        score = float((shifted_scores if pool else normal_scores)[k])
        at = first + step * i
        hub = HUBS[i % len(HUBS)]
        if explore[i] < 0.05:
            action, why, propensity = "RELEASE", "out_of_scope", 1.0
        elif score > 0.05:
            action, why, propensity = "SCREEN", "model", 1.0
        elif explore[i] < 0.06:
            action, why, propensity = "SCREEN", "exploration", 0.02
        else:
            action, why, propensity = "RELEASE", "model", 0.98
        parcel = f"BP{i:08d}"
        origin = (shifted if pool else normal)[k]["origin_province"]
        decision_rows.append((parcel, hub, action, why, score, propensity, settings.model_name, "1", reasons,
                              encoded[pool][k], manifest, origin, at, at, "screened" if action == "SCREEN"
                              else "released"))
        if action == "SCREEN":
            hit = found[i] < (0.15 if why == "model" else 0.01)
            outcome_rows.append((parcel, at + timedelta(hours=1), "contraband" if hit else "clear", "xray",
                                 "bench", at + timedelta(hours=1)))
        elif why == "model" and found[i] < 0.0005:
            outcome_rows.append((parcel, at + timedelta(days=2), "contraband", "late", "bench", at + timedelta(days=2)))
    _bulk_insert(store, decision_rows, outcome_rows)
    flagged = sum(1 for r in decision_rows if r[2] == "SCREEN")
    per_hour = max(1, round(flagged / (days * 24 * len(HUBS))))
    for hub in HUBS:  # the admin set each hub's capacity to what it screens: no flag-rate alert is true
        store.capacity.set(hub, per_hour, "bench-admin")
    return Seeded(total, len(outcome_rows), first, last, time.perf_counter() - started, per_hour)


def _bulk_insert(store: Store, decision_rows: list[tuple[Any, ...]], outcome_rows: list[tuple[Any, ...]]) -> None:
    engine = store.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for table, columns, rows in ((decisions, _DECISION_COLUMNS, decision_rows),
                                         (outcomes, _OUTCOME_COLUMNS, outcome_rows)):
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        # SQLite keeps DateTime as ISO text without the zone (UTC), as SQLAlchemy writes it.
        def text(at: datetime) -> str:
            return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

        marks = ", ".join("?" * len(_DECISION_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) VALUES ({marks})",
                             [(*r[:12], text(r[12]), text(r[13]), r[14]) for r in decision_rows])
        marks = ", ".join("?" * len(_OUTCOME_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO outcomes ({', '.join(_OUTCOME_COLUMNS)}) VALUES ({marks})",
                             [(r[0], text(r[1]), r[2], r[3], r[4], text(r[5])) for r in outcome_rows])


@dataclass
class PageTiming:
    page: str
    path: str
    status: int
    first_s: float
    median_s: float


@dataclass
class PagesResult:
    backend: str
    decisions: int
    seed_s: float
    fold_s: float
    fold_decisions_per_s: float
    warm_up_s: float = 0.0
    pages: list[PageTiming] = field(default_factory=list)


def time_pages(client: Any, headers: dict[str, str], repeats: int = 3) -> list[PageTiming]:
    """Each page's first load and the median of ``repeats`` more (``client``: a TestClient or httpx client)."""
    found = []
    for name, path in PAGES:
        times = []
        status = 0
        for _ in range(repeats + 1):
            started = time.perf_counter()
            status = client.get(path, headers=headers).status_code
            times.append(time.perf_counter() - started)
        found.append(PageTiming(name, path, status, times[0], statistics.median(times[1:])))
    return found


def bench_pages(settings: Settings, store: Store, total: int, days: int = 120, repeats: int = 3,
                say: Any = print) -> PagesResult:
    """Seed, fold, and time every analyst page on ``store`` (an empty, migrated store)."""
    from fastapi.testclient import TestClient

    from scoring.api.app import create_app
    from scoring.monitoring import job, report

    register_champion(settings)
    seeded = seed_store(store, settings, total, days)
    say(f"seeded {seeded.decisions:,} decisions and {seeded.outcomes:,} outcomes in {seeded.seconds:.1f} s")
    started = time.perf_counter()
    job.run_once(settings, store, full=True)
    fold_s = time.perf_counter() - started
    say(f"the monitoring job's first pass (backfill, judging closed windows) took {fold_s:.1f} s")
    store.access.add_key("bench-analyst", "analyst", "bench-analyst-token")
    result = PagesResult(store.engine.dialect.name, total, seeded.seconds, fold_s, total / fold_s)
    report.forget()  # the job's pass above read the registry and made the bins: start as a fresh API would
    started = time.perf_counter()
    app = create_app(settings, store, warm_analyst=True)
    with TestClient(app) as client:
        # An API serves analysts some time after it starts; its warm-up (registry, bins) is done by then.
        app.state.warmed.wait(WARM_UP_WAIT_S)
        result.warm_up_s = time.perf_counter() - started
        say(f"the API's warm-up (registry, bins) took {result.warm_up_s:.1f} s")
        result.pages = time_pages(client, {"Authorization": "Bearer bench-analyst-token"}, repeats)
    return result


def as_json(results: list[PagesResult]) -> bytes:
    from dataclasses import asdict

    return orjson.dumps([asdict(r) for r in results], option=orjson.OPT_INDENT_2)


def sqlite_settings(folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'pages.db'}",
                    mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


@contextmanager
def postgres_store(url: str, folder: Path, prefix: str = "bench") -> Iterator[tuple[Settings, Store]]:
    """Settings and a fresh store in a private schema of the PostgreSQL at ``url`` (MLflow beside it under
    ``folder``), the schema dropped after: a bench never touches the database's own tables."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        store = Store(engine)
        store.create_schema()
        yield sqlite_settings(folder).model_copy(update={"database_url": url}), store
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
