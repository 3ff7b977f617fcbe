"""Shared fixtures: settings in a temporary data folder, a store on SQLite and (when available) PostgreSQL,
and one real embedded broker for the whole session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from parcelguard.config import Settings
from scoring.db import make_engine, metadata
from scoring.store import Store
from streams.broker import EmbeddedBroker
from training.world.generate import WorldFiles

POSTGRES_URL = os.environ.get("PARCELGUARD_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def make_settings(data_dir: Path, database_url: str = "", **overrides: Any) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        data_dir=data_dir,
        database_url=database_url or f"sqlite:///{data_dir / 'parcelguard.db'}",
        mlflow_tracking_uri=f"sqlite:///{data_dir / 'mlflow.db'}",
        hash_key=SecretStr("test-hash-key"),
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


def _fresh_postgres_schema() -> str:
    """A private schema per test, so tests never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return schema


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each database backend available."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        schema = None
    else:
        schema = _fresh_postgres_schema()
        engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    store = Store(engine)
    store.create_schema()
    yield store
    if schema is not None:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A real Tansu broker of the test's own (it starts in ~0.1 s), so topics never leak between tests."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as running:
        yield running


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    """A small fully screened history (12 days x 2,500 parcels), generated once per session."""
    from tests.worlds import small_world

    return small_world(tmp_path_factory.mktemp("world"))
