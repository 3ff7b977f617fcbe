"""Hubs: the registry of hubs as reference data (id, name, time zone, default X-ray capacity)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from scoring.db import as_utc, hubs
from scoring.store.audit import write_audit
from scoring.store.base import Repository
from scoring.store.rows import Hub


def _hub(row: Any) -> Hub:
    return Hub(hub_id=row.hub_id, name=row.name, time_zone=row.time_zone, default_capacity=row.default_capacity,
               updated_by=row.updated_by, updated_at=as_utc(row.updated_at))


class Hubs(Repository):
    """Register (or update) hubs and read the registry; callers validate hub ids against it."""

    def save(self, hub: Hub, actor: str) -> None:
        """Add the hub, or update its name, time zone and default capacity (audited)."""
        row = {"hub_id": hub.hub_id, "name": hub.name, "time_zone": hub.time_zone,
               "default_capacity": hub.default_capacity, "updated_by": actor, "updated_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            stmt = self._insert(hubs).values(row)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["hub_id"], set_={k: stmt.excluded[k] for k in row if k != "hub_id"}))
            write_audit(conn, actor, "save_hub", None, {k: v for k, v in row.items() if k != "updated_at"})

    def get(self, hub_id: str) -> Hub | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(hubs).where(hubs.c.hub_id == hub_id)).first()
            return None if row is None else _hub(row)

    def all(self) -> list[Hub]:
        with self.engine.connect() as conn:
            return [_hub(row) for row in conn.execute(select(hubs).order_by(hubs.c.hub_id))]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(hubs)).scalar_one())
