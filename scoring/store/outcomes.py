"""Screening outcomes and late labels: one per parcel and source, crediting the parcel's entities.

Recording an outcome closes the parcel's claim, marks an X-ray outcome screened, and writes the entity
history the outcome moves (``models.credit`` says what) in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.credit import Found, credit_for, found
from models.manifest import Outcome
from scoring.db import as_utc, decisions, outcomes
from scoring.store.audit import write_audit
from scoring.store.base import Repository
from scoring.store.bulk import FOUND, read_stats, upsert_stats
from scoring.store.rows import StoredOutcome


def _found(conn: Connection, parcel_id: str) -> Found:
    rows = conn.execute(select(outcomes.c.source, outcomes.c.result).where(outcomes.c.parcel_id == parcel_id))
    return found((row.source, row.result) for row in rows)


class Outcomes(Repository):
    """Record what screening found, and read a parcel's outcomes."""

    def record(self, outcome: Outcome, actor: str) -> bool:
        """Store an outcome (one per parcel and source; a repeat replaces it) and close the parcel's claim.
        False when no decision is logged for the parcel (the outcome is kept all the same)."""
        now = datetime.now(UTC)
        row = {
            "parcel_id": outcome.parcel_id,
            "screened_at": outcome.screened_at.astimezone(UTC),
            "result": outcome.result,
            "contraband_type": outcome.contraband_type,
            "quantity_g": outcome.quantity_g,
            "source": outcome.source,
            "note": outcome.note,
            "recorded_by": actor,
            "recorded_at": now,
        }
        with self.engine.begin() as conn:
            before = _found(conn, outcome.parcel_id)
            stmt = self._insert(outcomes).values(row)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["parcel_id", "source"],
                set_={k: stmt.excluded[k] for k in row if k not in ("parcel_id", "source")},
            ))
            after = _found(conn, outcome.parcel_id)
            if after != before:
                self._credit(conn, outcome.parcel_id, before, after)
            known = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == outcome.parcel_id)
                .values(status="screened" if outcome.source == "xray" else decisions.c.status,
                        claimed_by=None, claim_expires_at=None)
            ).rowcount
            write_audit(conn, actor, "outcome", outcome.parcel_id,
                        {"result": outcome.result, "source": outcome.source,
                         "contraband_type": outcome.contraband_type, "quantity_g": outcome.quantity_g})
        return bool(known)

    @staticmethod
    def _credit(conn: Connection, parcel_id: str, before: Found, after: Found) -> None:
        """Write the outcome counts the change moves, so parcels decided from now on see them."""
        stored = conn.execute(select(decisions.c.manifest, decisions.c.accepted_at, decisions.c.features)
                              .where(decisions.c.parcel_id == parcel_id)).first()
        if stored is None:
            return  # an outcome for a parcel this service never decided: no entities to credit
        credit = credit_for(stored.manifest, as_utc(stored.accepted_at) or stored.accepted_at, before, after,
                            stored.features)
        if credit is not None:
            upsert_stats(conn, credit.applied(read_stats(conn, credit.entity_keys())), FOUND)

    def for_parcel(self, parcel_id: str) -> list[StoredOutcome]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outcomes).where(outcomes.c.parcel_id == parcel_id).order_by(outcomes.c.id))
            return [StoredOutcome.from_row(row) for row in rows]
