"""The schema comes only from Alembic migrations, and the migrations build exactly what scoring/db.py declares."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Engine

from scoring import migrations
from scoring.db import make_engine, metadata
from scoring.store import Store
from tests.conftest import BACKENDS, POSTGRES_URL, _fresh_postgres_schema

REPO = Path(__file__).resolve().parents[2]


def test_migrated_schema_matches_db_py_exactly(store: Store) -> None:
    """The store fixture migrates; if a table or column is added to db.py without a migration, this fails."""
    assert migrations.current(store.engine) == migrations.head()
    with store.engine.connect() as conn:
        assert migrations.drift(conn) == []
        tables = set(inspect(conn).get_table_names())
    assert tables == set(metadata.tables) | {migrations.VERSION_TABLE}


def test_drift_is_reported_when_the_database_differs(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_decisions_accepted"))
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    with store.engine.connect() as conn:
        found = {str(diff[0]) for diff in migrations.drift(conn)}
    assert {"add_index", "remove_table"} <= found


def test_downgrade_removes_every_table_and_upgrade_rebuilds_them(store: Store) -> None:
    migrations.downgrade(store.engine, "base")
    assert not set(inspect(store.engine).get_table_names()) & set(metadata.tables)
    assert migrations.current(store.engine) is None
    store.create_schema()
    with store.engine.connect() as conn:
        assert migrations.drift(conn) == []


def test_create_schema_twice_changes_nothing(store: Store) -> None:
    store.access.add_key("ops", "admin", "token-1")
    store.create_schema()
    assert store.access.principal("token-1") is not None


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A URL (and connect args) for a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}", {}
        return
    schema = _fresh_postgres_schema()
    yield POSTGRES_URL, {"options": f"-csearch_path={schema}"}
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


MIGRATE_IN_A_PROCESS = """
import sys
from scoring import migrations
from scoring.db import make_engine
url, options = sys.argv[1], sys.argv[2]
migrations.upgrade(make_engine(url, **({"connect_args": {"options": options}} if options else {})))
"""


def test_replicas_starting_together_migrate_one_database_once(empty_database: tuple[str, dict[str, str]]) -> None:
    """Scorer replicas and the API all migrate at start-up; separate processes must not race each other."""
    url, connect_args = empty_database
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE_IN_A_PROCESS, url, connect_args.get("options", "")],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [(p.communicate(timeout=120)[1].decode(), p.returncode) for p in procs]
    assert all(code == 0 for _, code in results), [err[-2000:] for err, code in results if code]
    engine = make_engine(url, **({"connect_args": connect_args} if connect_args else {}))
    try:
        assert migrations.current(engine) == migrations.head()
        with engine.connect() as conn:
            assert migrations.drift(conn) == []
            assert conn.execute(text(f"SELECT count(*) FROM {migrations.VERSION_TABLE}")).scalar_one() == 1
    finally:
        engine.dispose()


def _sqlite(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")


def test_a_database_made_before_migrations_is_adopted_when_it_matches(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    metadata.create_all(engine)  # what Store.create_schema did before there were migrations
    Store(engine).create_schema()
    assert migrations.current(engine) == migrations.head()


def test_a_database_made_before_migrations_that_differs_is_refused_with_a_reason(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    old = MetaData()
    Table("decisions", old, Column("parcel_id", String(64), primary_key=True), Column("n", Integer))
    old.create_all(engine)
    with pytest.raises(migrations.SchemaError, match="no migration history"):
        Store(engine).create_schema()
    assert migrations.current(engine) is None  # nothing stamped, nothing half-built
    assert set(inspect(engine).get_table_names()) == {"decisions"}
