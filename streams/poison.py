"""Poison or outage? How the stream loops tell a record that cannot be processed from a dependency that is down.

An outage (the database or the broker not answering) is retried with consumption paused, for as long as
it lasts: nothing is wrong with the records. Anything else that fails while a record is being decided or
stored is taken as the record's own fault (the store refusing a value, the feature code choking on it)
and, after a bounded number of tries, that one record is dead-lettered so the ones behind it go on.
"""

from __future__ import annotations

import sqlalchemy.exc
from kafka.errors import KafkaError

from parcelguard.errors import ParcelGuardError

# Tries of a whole batch before it is split record by record, and of one record before it is dead-lettered.
BATCH_TRIES = 2
RECORD_TRIES = 3

# Store refusals that are the record's fault (a value the database will not take), never an outage.
_REFUSED = (sqlalchemy.exc.DataError, sqlalchemy.exc.IntegrityError)
# A database or network that does not answer: connection refused or dropped, a lock or statement
# timeout (both OperationalError on SQLite and PostgreSQL), a pool that cannot hand out a connection.
_OUTAGE = (
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError, OSError, TimeoutError, KafkaError,
)


class OutageError(ParcelGuardError):
    """A dependency (broker or database) did not answer; the step is retried, never dead-lettered."""


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says a dependency is down rather than that a record is bad."""
    if isinstance(exc, _REFUSED):
        return False
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (*_OUTAGE, OutageError))


def describe(exc: BaseException, limit: int = 300) -> str:
    """A one-line reason for a dead letter: the error's type and first line, never its SQL parameters
    (SQLAlchemy appends the statement and its values on later lines: the record's contents)."""
    name = type(exc).__name__
    first = (str(exc).splitlines() or [""])[0]
    return f"{name}: {first}"[:limit]
