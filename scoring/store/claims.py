"""Claims on flagged parcels: guarded updates so two screeners never hold the same parcel.

``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on SQLite (one writer at a time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from scoring.db import decisions
from scoring.store.audit import write_audit
from scoring.store.base import Repository
from scoring.store.queue import QUEUE_ORDER, claim_free


class Claims(Repository):
    """Take, take-next and hand back flagged parcels; every claim and release is audited."""

    def claim(self, parcel_id: str, user: str, ttl: timedelta, now: datetime | None = None) -> bool:
        """Take a pending parcel for ``ttl``; False when someone else holds a live claim on it."""
        now = now or datetime.now(UTC)
        mine_or_free = and_(decisions.c.parcel_id == parcel_id, decisions.c.status == "pending",
                            or_(claim_free(now), decisions.c.claimed_by == user))
        with self.engine.begin() as conn:
            if self._postgres:
                locked = conn.execute(
                    select(decisions.c.parcel_id).where(mine_or_free).with_for_update(skip_locked=True)
                ).first()
                if locked is None:
                    return False
            result = conn.execute(
                update(decisions).where(mine_or_free).values(claimed_by=user, claim_expires_at=now + ttl)
            )
            if result.rowcount != 1:
                return False
            write_audit(conn, user, "claim", parcel_id, {"ttl_s": ttl.total_seconds()})
            return True

    def claim_next(self, hub_id: str, user: str, ttl: timedelta, now: datetime | None = None) -> str | None:
        """Take the highest-risk parcel nobody holds at a hub; None when none is free. Never hands one out twice."""
        now = now or datetime.now(UTC)
        free = and_(decisions.c.hub_id == hub_id, decisions.c.status == "pending", claim_free(now))
        with self.engine.begin() as conn:
            if self._postgres:
                # Rows another claimer has locked are skipped, not waited for: each gets a different parcel.
                parcel_id = conn.execute(
                    select(decisions.c.parcel_id).where(free).order_by(*QUEUE_ORDER).limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar()
                if parcel_id is None:
                    return None
                taken = conn.execute(
                    update(decisions).where(decisions.c.parcel_id == parcel_id, free)
                    .values(claimed_by=user, claim_expires_at=now + ttl)
                ).rowcount == 1
            else:
                # SQLite runs one writer at a time, so choosing and taking in one guarded UPDATE is atomic.
                first = select(decisions.c.parcel_id).where(free).order_by(*QUEUE_ORDER).limit(1).scalar_subquery()
                parcel_id = conn.execute(
                    update(decisions).where(decisions.c.parcel_id == first, free)
                    .values(claimed_by=user, claim_expires_at=now + ttl).returning(decisions.c.parcel_id)
                ).scalar()
                taken = parcel_id is not None
            if not taken:
                return None
            write_audit(conn, user, "claim", parcel_id, {"ttl_s": ttl.total_seconds(), "next": True})
            return str(parcel_id)

    def release(self, parcel_id: str, user: str) -> bool:
        """Give a held parcel back to the queue; False when ``user`` does not hold it."""
        with self.engine.begin() as conn:
            released = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == parcel_id, decisions.c.status == "pending",
                       decisions.c.claimed_by == user)
                .values(claimed_by=None, claim_expires_at=None)
            ).rowcount == 1
            if released:
                write_audit(conn, user, "release", parcel_id, {})
            return released
