"""The decision log and the entity history it advances: written together, one transaction per batch.

Decisions are inserted idempotently (a replayed parcel keeps its first decision), together with the
entity-history stats they advanced.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC

from sqlalchemy import func, select

from models.history import EntityStat
from models.manifest import Decision
from scoring.db import decisions
from scoring.store.base import Repository
from scoring.store.bulk import FOUND, SEEN, add_stats, bulk_write, read_stats, upsert_stats
from scoring.store.rows import DecisionRecord, StoredDecision, decision_from_row

_DECISION_COLUMNS = (
    "parcel_id", "hub_id", "action", "why", "score", "propensity", "model_name", "model_version",
    "shadow_version", "shadow_score", "reasons", "features", "manifest", "origin_province", "accepted_at",
    "decided_at", "status",
)


class EntityStats(Repository):
    """Entity history (senders, recipients, outlets...) as scorers and bootstraps read and seed it."""

    def load(self, keys: Iterable[str]) -> dict[str, EntityStat]:
        with self.engine.connect() as conn:
            return read_stats(conn, keys)

    def save(self, stats: dict[str, EntityStat]) -> None:
        """Write whole entity rows (a bootstrap seeding the store, outcome counts included)."""
        with self.engine.begin() as conn:
            upsert_stats(conn, stats, (*SEEN, *FOUND))


class Decisions(Repository):
    """Record decisions with the entity counts they moved; look logged decisions up."""

    def record(self, records: Sequence[DecisionRecord], stats: dict[str, EntityStat],
               base: dict[str, tuple[int, int]] | None = None) -> int:
        """Insert new decisions (existing parcel ids keep their first decision) and add the entity counts
        they moved (``stats`` as counted, ``base`` as read: see ``bulk.add_stats``). Returns how many were new.

        Feature rows go to the JSON column as they are: the engine's serializer (orjson, ``scoring.db``) writes a
        NaN (a missing value) as null, so no per-row copy is made here.
        """
        rows = [
            (
                r.decision.parcel_id, r.decision.hub_id, r.decision.action, r.decision.why, r.decision.score,
                r.decision.propensity, r.decision.model_name, r.decision.model_version, r.shadow_version,
                r.shadow_score, [reason.model_dump() for reason in r.decision.reasons], r.features,
                r.manifest, r.origin_province, r.accepted_at.astimezone(UTC), r.decision.decided_at,
                "pending" if r.decision.action == "SCREEN" else "released",
            )
            for r in records
        ]
        with self.engine.begin() as conn:
            inserted = bulk_write(conn, decisions, _DECISION_COLUMNS, rows) if rows else 0
            add_stats(conn, stats, base or {})
        return inserted

    def existing(self, parcel_ids: Sequence[str]) -> dict[str, Decision]:
        """The decisions already logged for any of ``parcel_ids`` (a replay publishes these again)."""
        if not parcel_ids:
            return {}
        with self.engine.connect() as conn:
            columns = [decisions.c[name] for name in Decision.model_fields]
            rows = conn.execute(select(*columns).where(decisions.c.parcel_id.in_(list(set(parcel_ids)))))
            return {row.parcel_id: decision_from_row(row) for row in rows}

    def get(self, parcel_id: str) -> StoredDecision | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.parcel_id == parcel_id)).first()
            return None if row is None else StoredDecision.from_row(row)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())
