"""Helpers for the stream tests: varied manifests, a tiny registered model, a scorer run as a real process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import orjson

from models import registry
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES, NUMERIC_FEATURES
from models.risk_model import FeatureSchema, RiskModel
from parcelguard.config import Settings
from tests.factories import manifest

REPO = Path(__file__).resolve().parents[2]
PROVINCES = ["Yunnan", "Guangdong", "Sichuan", "Zhejiang", "Beijing"]  # the first three are priority origins
HUBS = ["HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA"]


def manifests(n: int, prefix: str = "P", seed: int = 1, start: datetime | None = None) -> list[dict[str, Any]]:
    """``n`` valid manifests with distinct ids, a few seconds apart, mixing in- and out-of-scope origins."""
    rng = random.Random(seed)
    at = start or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        at += timedelta(seconds=rng.uniform(0.5, 4))
        out.append(manifest(
            parcel_id=f"{prefix}{i:07d}", hub_id=rng.choice(HUBS), accepted_at=at.isoformat(),
            origin__province=rng.choice(PROVINCES), weight_g=rng.randint(100, 20000),
            contents__declared_value=float(rng.choice([0, 1, 20, 150, 900])),
            sender__phone=f"138{rng.randint(0, 99999):08d}", sender__account_id=f"ACC-{rng.randint(0, 5000)}",
            recipient__phone=f"139{rng.randint(0, 99999):08d}",
        ))
    return out


def tiny_model(name: str = "parcelguard-risk", seed: int = 0) -> tuple[RiskModel, np.ndarray]:
    """A small LightGBM over the real feature schema, trained on synthetic rows (weight up, value down)."""
    rng = np.random.default_rng(seed)
    n = 3000
    X = np.full((n, len(FEATURE_NAMES)), np.nan)
    X[:, : len(NUMERIC_FEATURES)] = rng.random((n, len(NUMERIC_FEATURES))) * 20
    weight, value = X[:, 0], X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.4 * weight - 0.3 * value - 2 + seed)))).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbosity": -1, "seed": seed,
                         "num_threads": 1}, lgb.Dataset(X, y, feature_name=FEATURE_NAMES), num_boost_round=15)
    schema = FeatureSchema(vocabularies={name: [] for name in CATEGORICAL_FEATURES})
    model = RiskModel(booster=booster, schema=schema, name=name)
    schema.reference["score_sample"] = sorted(model.score(X[:500]).tolist())
    return model, X


def register_tiny_model(settings: Settings, seed: int = 0, champion: bool = True) -> str:
    """Register ``tiny_model`` in MLflow as the champion (or the challenger); returns its version."""
    model, X = tiny_model(settings.model_name, seed)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    with mlflow.start_run(run_name=f"tiny-{seed}"):
        version = registry.log_model(model, X[:5], settings.model_name)
    registry.set_alias(settings.model_name, "champion" if champion else "challenger", version)
    return version


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def scorer_env(settings: Settings, bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PARCELGUARD_DATA_DIR": str(settings.data_dir),
        "PARCELGUARD_DATABASE_URL": settings.database_url,
        "PARCELGUARD_KAFKA_BOOTSTRAP": bootstrap,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "PARCELGUARD_HASH_KEY": settings.hash_key.get_secret_value(),
        "PARCELGUARD_MODEL_NAME": settings.model_name,
        "PARCELGUARD_CONFIG": str(settings.data_dir / "no-such-config.toml"),
        "PYTHONPATH": str(REPO),
    })
    return env


class ScorerProcess:
    """``parcelguard score`` as its own OS process, so it can be killed like one."""

    def __init__(self, settings: Settings, bootstrap: str, group: str, name: str = "scorer") -> None:
        self.command = [sys.executable, "-m", "parcelguard.cli", "score", "--bootstrap", bootstrap, "--group", group]
        self.env = scorer_env(settings, bootstrap)
        self.log_path = settings.data_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ScorerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=self.log_path.parent,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout_s)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ScorerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def decisions_by_parcel(records: Iterator[Any] | list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Published decisions grouped by parcel id (a replay may publish one twice)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        decision = orjson.loads(record.value)
        grouped.setdefault(decision["parcel_id"], []).append(decision)
    return grouped
