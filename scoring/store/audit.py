"""The audit log: who did what, when. Every audited write appends in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from scoring.db import as_utc, audit_log
from scoring.store.base import Repository
from scoring.store.rows import AuditRecord


def write_audit(conn: Connection, actor: str, action: str, parcel_id: str | None, detail: dict[str, Any]) -> None:
    """Append one entry inside the caller's transaction (a claim, an outcome, a key issued...)."""
    conn.execute(audit_log.insert().values(
        at=datetime.now(UTC), actor=actor, action=action, parcel_id=parcel_id, detail=detail
    ))


def _record(row: Any) -> AuditRecord:
    return AuditRecord(id=row.id, at=as_utc(row.at) or row.at, actor=row.actor, action=row.action,
                       parcel_id=row.parcel_id, detail=row.detail)


class AuditLog(Repository):
    """Read the audit log, and record actions taken outside the database."""

    def record(self, actor: str, action: str, parcel_id: str | None = None,
               detail: dict[str, Any] | None = None) -> None:
        """Record an action taken outside the database (a watch-list edit) with who and when."""
        with self.engine.begin() as conn:
            write_audit(conn, actor, action, parcel_id, detail or {})

    def for_parcel(self, parcel_id: str) -> list[AuditRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.parcel_id == parcel_id).order_by(audit_log.c.id))
            return [_record(row) for row in rows]

    def recent(self, limit: int = 100, actor: str | None = None) -> list[AuditRecord]:
        """The newest audit entries, optionally one actor's."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]
