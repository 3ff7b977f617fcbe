"""Driver-level bulk writes and reads: the scorer's hot path (decisions and entity stats, once per batch).

SQLAlchemy's executemany re-processes every parameter set in Python, which cost more than SQLite's own
work (profiled, issue 3); these go to the driver directly, with the column types' bind processors still
applied, so stored values are exactly what SQLAlchemy would have written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Float, Table
from sqlalchemy.engine import Connection

from models.history import EntityStat
from scoring.db import entity_stats

SEEN = ("count", "first_seen", "last_seen", "burst", "partners")  # moved by deciding
FOUND = ("screened", "seized")  # moved by outcomes
STAT_COLUMNS = ("key", *SEEN, *FOUND)  # the order of EntityStat's fields after the key
_STAT_SELECT = ", ".join(f'"{c}"' for c in STAT_COLUMNS)
_READ_CHUNK = 900  # keys per IN list: under SQLite's oldest bound of 999 parameters
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def bulk_write(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]],
               update: Sequence[str] = (), assignments: str | None = None) -> int:
    """Insert ``rows`` in one driver-level executemany: new keys are inserted, existing ones are left as
    they are (or, with ``update``, get those columns from the new row; or get ``assignments``, a SQL
    ``SET`` list). Returns the rows written."""
    dialect = conn.dialect
    # JSON and DateTime need their bind processors; Float's only coerces what is a float already.
    processed = [(i, p) for i, name in enumerate(columns) if not isinstance(table.c[name].type, Float)
                 and (p := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    marks = ", ".join([_PLACEHOLDERS[dialect.paramstyle]] * len(columns))
    quote = dialect.identifier_preparer.quote
    key = ", ".join(quote(c.name) for c in table.primary_key.columns)
    if update:
        assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
    on_conflict = f"DO UPDATE SET {assignments}" if assignments else "DO NOTHING"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks}) "
           f"ON CONFLICT ({key}) {on_conflict}")
    if processed:
        rows = [_processed(row, processed) for row in rows]
    result = conn.execution_options(preserve_rowcount=True).exec_driver_sql(sql, rows)
    return int(result.rowcount)


def read_stats(conn: Connection, keys: Iterable[str]) -> dict[str, EntityStat]:
    """Entity stats by key, read through the driver's own cursor: the scorer reads tens of thousands a batch,
    and SQLAlchemy's row wrapping (even through ``exec_driver_sql``) cost more than the lookups themselves."""
    wanted = list(set(keys))
    found: dict[str, EntityStat] = {}
    mark = _PLACEHOLDERS[conn.dialect.paramstyle]
    cursor = conn.connection.cursor()
    try:
        for start in range(0, len(wanted), _READ_CHUNK):
            chunk = tuple(wanted[start : start + _READ_CHUNK])
            cursor.execute(f'SELECT {_STAT_SELECT} FROM entity_stats WHERE "key" IN ({", ".join([mark] * len(chunk))})',
                           chunk)
            for key, *values in cursor.fetchall():
                found[key] = EntityStat(*values)
    finally:
        cursor.close()
    return found


def upsert_stats(conn: Connection, stats: dict[str, EntityStat], columns: Sequence[str]) -> None:
    """Insert or update entity rows; only ``columns`` of an existing row are overwritten (a bootstrap
    seeding whole rows; a recorded outcome moving the outcome counts, which scorers never write)."""
    if stats:
        rows = [(k, s.count, s.first_seen, s.last_seen, s.burst, s.partners, s.screened, s.seized)
                for k, s in stats.items()]
        bulk_write(conn, entity_stats, STAT_COLUMNS, rows, update=columns)


def add_stats(conn: Connection, stats: dict[str, EntityStat], base: dict[str, tuple[int, int]]) -> None:
    """Add what a scorer counted since it read ``base`` (count, partners per key) to the stored rows.

    Counts add up, so scorers sharing an entity (a sender shipping through two hubs' partitions)
    never lose each other's parcels; first and last seen take the earlier and the later; the burst
    (a decaying count) is the latest writer's. Outcome counts are only moved by recorded outcomes.
    """
    if not stats:
        return
    rows = []
    for key, s in stats.items():
        count, partners = base.get(key, (0, 0))
        rows.append((key, s.count - count, s.first_seen, s.last_seen, s.burst, s.partners - partners,
                     s.screened, s.seized))
    least, greatest = ("LEAST", "GREATEST") if conn.dialect.name == "postgresql" else ("MIN", "MAX")
    bulk_write(conn, entity_stats, STAT_COLUMNS, rows, assignments=(
        '"count" = entity_stats."count" + excluded."count", '
        "partners = entity_stats.partners + excluded.partners, "
        f"first_seen = {least}(entity_stats.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}(entity_stats.last_seen, excluded.last_seen), "
        "burst = excluded.burst"))


def _processed(row: tuple[Any, ...], processors: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in processors:
        if values[i] is not None:
            values[i] = process(values[i])
    return tuple(values)
