"""The screening queue as screeners and dashboards read it: waiting parcels, claims held, hub counts, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from scoring.db import as_utc, decisions, outcomes
from scoring.store.base import Repository
from scoring.store.rows import HubHour, HubLoad, HubPace, ParcelHit, ScoreScale, StoredDecision

# Highest risk first: hard-rule hits, then by model score, oldest first among equals.
QUEUE_ORDER = ((decisions.c.why == "rule").desc(), decisions.c.score.desc().nulls_last(), decisions.c.accepted_at,
               decisions.c.parcel_id)


# Every status a decision can have: naming them all lets the queue index (hub_id, status, action, score) reach
# a hub's SCREEN rows without reading its released ones (about 95% of them).
STATUSES = ("pending", "screened", "released")


def claim_free(now: datetime) -> Any:
    """No claim on the parcel, or one that has expired by ``now``."""
    return or_(decisions.c.claimed_by.is_(None), decisions.c.claim_expires_at < now)


class Queue(Repository):
    """Reads of the flagged parcels waiting for X-ray screening."""

    def waiting(self, hub_id: str, limit: int = 50, now: datetime | None = None) -> list[StoredDecision]:
        """Flagged parcels not yet screened and not held by a live claim: rule hits first, then by score."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .where(decisions.c.hub_id == hub_id, decisions.c.status == "pending", claim_free(now))
                .order_by(*QUEUE_ORDER)
                .limit(limit)
            )
            return [StoredDecision.from_row(row) for row in rows]

    def held_by(self, user: str, hub_id: str | None = None, now: datetime | None = None) -> list[StoredDecision]:
        """Parcels ``user`` holds a live claim on (oldest claim first)."""
        now = now or datetime.now(UTC)
        conditions = [decisions.c.status == "pending", decisions.c.claimed_by == user,
                      decisions.c.claim_expires_at >= now]
        if hub_id is not None:
            conditions.append(decisions.c.hub_id == hub_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(decisions).where(*conditions).order_by(decisions.c.claim_expires_at))
            return [StoredDecision.from_row(row) for row in rows]

    def flagged_since(self, hub_id: str, since: datetime) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(decisions).where(
                    decisions.c.hub_id == hub_id, decisions.c.status.in_(STATUSES), decisions.c.action == "SCREEN",
                    decisions.c.decided_at >= since)
            ).scalar_one())

    def hub_hour(self, hub_id: str, since: datetime, now: datetime | None = None) -> HubHour:
        """A hub's queue in numbers: waiting, held by a live claim, flagged and screened since ``since``."""
        now = now or datetime.now(UTC)
        pending = and_(decisions.c.hub_id == hub_id, decisions.c.status == "pending")
        with self.engine.connect() as conn:
            waiting = conn.execute(select(func.count()).where(pending, claim_free(now))).scalar_one()
            total = conn.execute(select(func.count()).where(pending)).scalar_one()
            recent = select(outcomes.c.parcel_id).where(outcomes.c.source == "xray", outcomes.c.recorded_at >= since)
            screened = conn.execute(  # the outcomes first, then their parcels by key (see ``pace``)
                select(func.count()).where(decisions.c.hub_id == hub_id,
                                           decisions.c.parcel_id.in_(recent.scalar_subquery()))
            ).scalar_one()
        return HubHour(waiting=int(waiting), held=int(total - waiting), flagged=self.flagged_since(hub_id, since),
                       screened=int(screened))

    def hubs_overview(self, since: datetime, now: datetime | None = None) -> list[HubLoad]:
        """Per hub with anything pending or flagged since ``since``: waiting, held and flagged counts."""
        now = now or datetime.now(UTC)
        free = claim_free(now)
        with self.engine.connect() as conn:
            pending = conn.execute(
                select(decisions.c.hub_id, func.count().label("total"),
                       func.sum(case((free, 1), else_=0)).label("waiting"))
                .where(decisions.c.status == "pending").group_by(decisions.c.hub_id)
            ).all()
            flagged = conn.execute(
                select(decisions.c.hub_id, func.count().label("n"))
                .where(decisions.c.action == "SCREEN", decisions.c.decided_at >= since).group_by(decisions.c.hub_id)
            ).all()
        waiting = {row.hub_id: (int(row.waiting or 0), int(row.total - (row.waiting or 0))) for row in pending}
        counts = {row.hub_id: int(row.n) for row in flagged}
        return [HubLoad(hub_id=hub, waiting=waiting.get(hub, (0, 0))[0], held=waiting.get(hub, (0, 0))[1],
                        flagged=counts.get(hub, 0))
                for hub in sorted({*waiting, *counts})]

    def score_scale(self, hub_id: str, since: datetime, until: datetime, floor: float | None) -> ScoreScale:
        """The hub's parcels scored and accepted in [since, until): count, mean score, and every score >= ``floor``
        (None: no scores), so the parcels at or above the floor can be ranked without reading the whole day.
        By acceptance time, which is indexed: a day's range is read, not the hub's whole log."""
        where = (decisions.c.accepted_at >= since, decisions.c.accepted_at < until, decisions.c.hub_id == hub_id,
                 decisions.c.score.is_not(None))
        with self.engine.connect() as conn:
            count, mean = conn.execute(select(func.count(), func.avg(decisions.c.score)).where(*where)).one()
            top: list[float] = []
            if floor is not None and count:
                top = [float(s) for s in conn.execute(
                    select(decisions.c.score).where(*where, decisions.c.score >= floor)
                    .order_by(decisions.c.score.desc())).scalars()]
        return ScoreScale(count=int(count), mean=None if mean is None else float(mean), top=tuple(top))

    def pace(self, now: datetime | None = None) -> list[HubPace]:
        """Per hub with flagged parcels waiting or screened in the last hour: the oldest waiting parcel nobody holds
        (when it was flagged) and X-ray outcomes recorded in the last hour."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            hubs = conn.execute(select(decisions.c.hub_id).where(decisions.c.status == "pending").distinct()).scalars()
            # One hub at a time: (hub_id, status) leads the queue index, so only that hub's waiting rows are read.
            oldest = [(hub, conn.execute(select(func.min(decisions.c.decided_at)).where(
                decisions.c.hub_id == hub, decisions.c.status == "pending", claim_free(now))).scalar_one())
                for hub in list(hubs)]
            # The hour's outcomes first, then their parcels by key: a join let SQLite walk every decision instead.
            recent = select(outcomes.c.parcel_id).where(outcomes.c.source == "xray",
                                                        outcomes.c.recorded_at >= now - timedelta(hours=1))
            screened = conn.execute(
                select(decisions.c.hub_id, func.count().label("n"))
                .where(decisions.c.parcel_id.in_(recent.scalar_subquery())).group_by(decisions.c.hub_id)
            ).all()
        since = {hub: as_utc(at) for hub, at in oldest if at is not None}
        counts = {row.hub_id: int(row.n) for row in screened}
        return [HubPace(hub, since.get(hub), counts.get(hub, 0)) for hub in sorted({*since, *counts})]

    def search(self, prefix: str, hub_id: str | None = None, limit: int = 20) -> list[ParcelHit]:
        """Decisions whose parcel id starts with ``prefix`` (a scanned or typed waybill number)."""
        conditions = [decisions.c.parcel_id.startswith(prefix, autoescape=True)]
        if hub_id is not None:
            conditions.append(decisions.c.hub_id == hub_id)
        columns = [decisions.c[name] for name in ("parcel_id", "hub_id", "action", "why", "score", "status",
                                                  "decided_at")]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(*conditions).order_by(decisions.c.parcel_id).limit(limit))
            return [ParcelHit(**{**row._mapping, "decided_at": as_utc(row.decided_at)}) for row in rows]
