"""Schema migrations (Alembic): the only way ParcelGuard's tables come into being, on SQLite and PostgreSQL.

``upgrade(engine)`` brings a database to the newest revision. Scorer replicas, the API and
``parcelguard migrate`` may all start at once against one PostgreSQL, so there it runs under an
advisory lock (SQLite: an immediate write transaction), in one transaction: a failed migration leaves nothing.
New revisions come from ``alembic revision --autogenerate -m "..."`` at the repository root (alembic.ini),
and ``tests/scoring/test_migrations.py`` fails when the migrated schema and ``scoring/db.py`` disagree.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from parcelguard.errors import ParcelGuardError
from scoring.db import metadata

LOCATION = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
# Any constant will do, as long as every ParcelGuard process uses the same one.
_ADVISORY_LOCK_KEY = 0x5047_4D49  # "PGMI"
# Alembic keeps the running migration in module globals (alembic.context), so one thread at a time per process.
_PROCESS_LOCK = threading.Lock()


class SchemaError(ParcelGuardError):
    """The database holds tables the migrations did not make, and they differ from what the code expects."""


def config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini needed at run time (the installed package carries the scripts)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:
        raise SchemaError(f"no migration scripts in {LOCATION / 'versions'}")
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` (default: the newest); a database already there is left as it is."""
    with _PROCESS_LOCK, engine.begin() as conn:
        # One migrator at a time; the others wait here, then find nothing to do.
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})  # freed at commit
        elif conn.dialect.name == "sqlite":
            # The sqlite3 driver would run each DDL statement on its own; an explicit write transaction makes
            # the whole migration atomic and makes a second process wait (busy_timeout) instead of racing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        _adopt_unversioned(conn)
        command.upgrade(config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with _PROCESS_LOCK, engine.begin() as conn:
        command.downgrade(config(conn), revision)


def drift(conn: Connection) -> list[Any]:
    """Differences between the database's schema and ``scoring/db.py`` (empty when they agree)."""
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
    return list(compare_metadata(context, metadata))


def _adopt_unversioned(conn: Connection) -> None:
    """A database made by ``create_all`` before migrations existed: stamp it if it matches, else say why not."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables or not tables & set(metadata.tables):
        return
    differences = drift(conn)
    if differences:
        raise SchemaError(
            f"the database has ParcelGuard tables but no migration history, and they differ from this version "
            f"({len(differences)} difference(s), first: {differences[0]!r}); it predates migrations: move it "
            "aside (or delete it, for a development database) and start again"
        )
    command.stamp(config(conn), "head")
