"""Operations: drift and performance alerts, worker heartbeats, and hub capacity set by an admin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from scoring.db import alerts, as_utc, hub_capacity, workers
from scoring.store.audit import write_audit
from scoring.store.base import Repository
from scoring.store.rows import CapacityOverride, StoredAlert, WorkerStatus


class Alerts(Repository):
    """Alerts the monitoring report raises (training/monitor.py), and their acknowledgement."""

    def record(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Upsert alerts by ``key``: a window re-judged updates its alert (and keeps any acknowledgement);
        returns how many were new."""
        if not rows:
            return 0
        now = datetime.now(UTC)
        new = 0
        with self.engine.begin() as conn:
            known = set(conn.execute(select(alerts.c.key).where(alerts.c.key.in_([r["key"] for r in rows]))).scalars())
            for row in rows:
                values = {**row, "first_seen_at": now, "last_seen_at": now}
                stmt = self._insert(alerts).values(values)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={k: stmt.excluded[k] for k in values if k not in ("key", "first_seen_at")},
                ))
                new += row["key"] not in known
        return new

    def recent(self, limit: int = 100, open_only: bool = False, since: datetime | None = None) -> list[StoredAlert]:
        """Newest windows first; ``open_only`` leaves out acknowledged alerts."""
        query = select(alerts)
        if open_only:
            query = query.where(alerts.c.acknowledged_at.is_(None))
        if since is not None:
            query = query.where(alerts.c.window_start >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(alerts.c.window_start.desc(), alerts.c.id.desc()).limit(limit))
            return [StoredAlert.from_row(row) for row in rows]

    def acknowledge(self, alert_id: int, user: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
                .values(acknowledged_by=user, acknowledged_at=datetime.now(UTC))
            ).rowcount
            if done:
                write_audit(conn, user, "acknowledge_alert", None, {"alert_id": alert_id})
            return bool(done)


class Workers(Repository):
    """Worker status, read by the API's health endpoint and metrics."""

    def heartbeat(self, worker_id: str, kind: str, status: Mapping[str, Any]) -> None:
        row = {"worker_id": worker_id, "kind": kind, "heartbeat_at": datetime.now(UTC), **status}
        with self.engine.begin() as conn:
            stmt = self._insert(workers).values(row)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["worker_id"], set_={k: stmt.excluded[k] for k in row if k != "worker_id"}
            ))

    def statuses(self) -> list[WorkerStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(workers).order_by(workers.c.worker_id))
            return [WorkerStatus(**{**r._mapping, "heartbeat_at": as_utc(r.heartbeat_at)}) for r in rows]


class Capacity(Repository):
    """Hub capacity an admin set (X-ray parcels per hour), overriding the configured figure."""

    def overrides(self) -> dict[str, CapacityOverride]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(hub_capacity).order_by(hub_capacity.c.hub_id))
            return {r.hub_id: CapacityOverride(r.hub_id, r.per_hour, r.updated_by, as_utc(r.updated_at)) for r in rows}

    def set(self, hub_id: str, per_hour: int | None, actor: str) -> None:
        """Set a hub's X-ray parcels per hour, or with None go back to the configured figure."""
        with self.engine.begin() as conn:
            if per_hour is None:
                conn.execute(hub_capacity.delete().where(hub_capacity.c.hub_id == hub_id))
            else:
                row = {"hub_id": hub_id, "per_hour": per_hour, "updated_by": actor, "updated_at": datetime.now(UTC)}
                stmt = self._insert(hub_capacity).values(row)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["hub_id"], set_={k: stmt.excluded[k] for k in row if k != "hub_id"}))
            write_audit(conn, actor, "set_capacity", None, {"hub_id": hub_id, "per_hour": per_hour})
