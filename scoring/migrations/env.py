"""Alembic's environment: migrate the connection ParcelGuard hands over, or PARCELGUARD_DATABASE_URL.

Called by ``scoring.migrations.upgrade`` (the connection arrives in ``config.attributes``) and by the
``alembic`` command line at the repository root (the URL comes from ParcelGuard's settings).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from scoring.db import make_engine, metadata


def _settings_url() -> str:
    from parcelguard.config import Settings

    return Settings().database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():  # `alembic upgrade head --sql`: the DDL for a DBA to review
        context.configure(url=_settings_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(_settings_url())
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


run()
