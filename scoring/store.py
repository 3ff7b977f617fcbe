"""The decision store: the only module that writes to the database.

Decisions are inserted idempotently (a replayed parcel keeps its first decision), together with the
entity-history stats they advanced, in one transaction. Claims are guarded updates so two screeners
never hold the same parcel: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on SQLite.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from models.features import NUMERIC_FEATURES, FeatureRow
from models.history import EntityStat
from models.manifest import Decision, Outcome, Reason
from scoring.db import api_keys, as_utc, audit_log, decisions, entity_stats, metadata, outcomes, workers


@dataclass
class DecisionRecord:
    """A decision plus what it was made from: the logged feature row and the redacted manifest."""

    decision: Decision
    features: FeatureRow | None
    manifest: dict[str, Any]
    accepted_at: datetime
    origin_province: str | None
    shadow_version: str | None = None
    shadow_score: float | None = None


@dataclass
class LabelledRow:
    """A decision joined with its outcome, as training and evaluation read it."""

    parcel_id: str
    features: FeatureRow
    propensity: float
    action: str
    why: str
    score: float | None
    accepted_at: datetime
    label: bool | None


def _json_safe(row: FeatureRow | None) -> list[Any] | None:
    if row is None:
        return None
    return [None if isinstance(v, float) and math.isnan(v) else v for v in row]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """Every read and write ParcelGuard makes to its database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    # --- entity history -------------------------------------------------------------------------
    def load_entity_stats(self, keys: Iterable[str]) -> dict[str, EntityStat]:
        wanted = list(set(keys))
        found: dict[str, EntityStat] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in conn.execute(select(entity_stats).where(entity_stats.c.key.in_(chunk))):
                    m = row._mapping  # Row.count is tuple.count, so read columns by name
                    found[m["key"]] = EntityStat(m["count"], m["first_seen"], m["last_seen"], m["burst"], m["partners"])
        return found

    def _upsert_stats(self, conn: Connection, stats: dict[str, EntityStat]) -> None:
        rows = [
            {"key": k, "count": s.count, "first_seen": s.first_seen, "last_seen": s.last_seen,
             "burst": s.burst, "partners": s.partners}
            for k, s in stats.items()
        ]
        for start in range(0, len(rows), 2000):
            stmt = self._insert(entity_stats).values(rows[start : start + 2000])
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={c: stmt.excluded[c] for c in ("count", "first_seen", "last_seen", "burst", "partners")},
            )
            conn.execute(stmt)

    def save_entity_stats(self, stats: dict[str, EntityStat]) -> None:
        with self.engine.begin() as conn:
            self._upsert_stats(conn, stats)

    # --- decisions ------------------------------------------------------------------------------
    def existing_decisions(self, parcel_ids: Sequence[str]) -> dict[str, Decision]:
        if not parcel_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(decisions).where(decisions.c.parcel_id.in_(list(set(parcel_ids)))))
            return {row.parcel_id: _decision_from_row(row) for row in rows}

    def record_decisions(self, records: Sequence[DecisionRecord], stats: dict[str, EntityStat]) -> int:
        """Insert new decisions (existing parcel ids keep their first decision) and the stats they moved."""
        rows = [
            {
                "parcel_id": r.decision.parcel_id,
                "hub_id": r.decision.hub_id,
                "action": r.decision.action,
                "why": r.decision.why,
                "score": r.decision.score,
                "propensity": r.decision.propensity,
                "model_name": r.decision.model_name,
                "model_version": r.decision.model_version,
                "shadow_version": r.shadow_version,
                "shadow_score": r.shadow_score,
                "reasons": [reason.model_dump() for reason in r.decision.reasons],
                "features": _json_safe(r.features),
                "manifest": r.manifest,
                "origin_province": r.origin_province,
                "accepted_at": r.accepted_at.astimezone(UTC),
                "decided_at": r.decision.decided_at,
                "status": "pending" if r.decision.action == "SCREEN" else "released",
            }
            for r in records
        ]
        inserted = 0
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                stmt = self._insert(decisions).values(rows[start : start + 1000])
                inserted += conn.execute(stmt.on_conflict_do_nothing(index_elements=["parcel_id"])).rowcount
            if stats:
                self._upsert_stats(conn, stats)
        return inserted

    def decision(self, parcel_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.parcel_id == parcel_id)).first()
            return None if row is None else _row_dict(row)

    def count_decisions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())

    # --- the screening queue --------------------------------------------------------------------
    def queue(self, hub_id: str, limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
        """Flagged parcels not yet screened and not held by a live claim: rule hits first, then by score."""
        now = now or datetime.now(UTC)
        priority = (decisions.c.why == "rule").desc()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .where(decisions.c.hub_id == hub_id, decisions.c.status == "pending", _claim_free(now))
                .order_by(priority, decisions.c.score.desc().nulls_last(), decisions.c.accepted_at)
                .limit(limit)
            )
            return [_row_dict(row) for row in rows]

    def flagged_since(self, hub_id: str, since: datetime) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(decisions).where(
                    decisions.c.hub_id == hub_id, decisions.c.action == "SCREEN", decisions.c.decided_at >= since)
            ).scalar_one())

    def claim(self, parcel_id: str, user: str, ttl: timedelta, now: datetime | None = None) -> bool:
        """Take a pending parcel for ``ttl``; False when someone else holds a live claim on it."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                locked = conn.execute(
                    select(decisions.c.parcel_id)
                    .where(decisions.c.parcel_id == parcel_id, decisions.c.status == "pending",
                           or_(_claim_free(now), decisions.c.claimed_by == user))
                    .with_for_update(skip_locked=True)
                ).first()
                if locked is None:
                    return False
            result = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == parcel_id, decisions.c.status == "pending",
                       or_(_claim_free(now), decisions.c.claimed_by == user))
                .values(claimed_by=user, claim_expires_at=now + ttl)
            )
            if result.rowcount != 1:
                return False
            self._audit(conn, user, "claim", parcel_id, {"ttl_s": ttl.total_seconds()})
            return True

    def record_outcome(self, outcome: Outcome, actor: str) -> bool:
        """Store an outcome (one per parcel and source; a repeat replaces it) and close the parcel's claim."""
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
            stmt = self._insert(outcomes).values(row)
            stmt = stmt.on_conflict_do_update(
                index_elements=["parcel_id", "source"],
                set_={k: stmt.excluded[k] for k in row if k not in ("parcel_id", "source")},
            )
            conn.execute(stmt)
            known = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == outcome.parcel_id)
                .values(status="screened" if outcome.source == "xray" else decisions.c.status,
                        claimed_by=None, claim_expires_at=None)
            ).rowcount
            self._audit(conn, actor, "outcome", outcome.parcel_id,
                        {"result": outcome.result, "source": outcome.source})
        return bool(known)

    def outcomes_for(self, parcel_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outcomes).where(outcomes.c.parcel_id == parcel_id).order_by(outcomes.c.id))
            return [dict(row._mapping) for row in rows]

    # --- training reads -------------------------------------------------------------------------
    def labelled_rows(self, since: datetime | None = None, until: datetime | None = None) -> Iterator[LabelledRow]:
        """Every logged decision in the window with its feature row and, where known, its label.

        A parcel is contraband if any outcome (x-ray or late) says so; clear if screened and nothing
        says otherwise; unknown (None) if released with no late label.
        """
        contraband = (
            select(outcomes.c.parcel_id).where(outcomes.c.result == "contraband").scalar_subquery()
        )
        observed = select(outcomes.c.parcel_id).scalar_subquery()
        conditions: list[Any] = [decisions.c.features.is_not(None)]
        if since is not None:
            conditions.append(decisions.c.accepted_at >= since)
        if until is not None:
            conditions.append(decisions.c.accepted_at < until)
        query = (
            select(
                decisions.c.parcel_id, decisions.c.features, decisions.c.propensity, decisions.c.action,
                decisions.c.why, decisions.c.score, decisions.c.accepted_at,
                decisions.c.parcel_id.in_(contraband).label("is_contraband"),
                decisions.c.parcel_id.in_(observed).label("is_observed"),
            )
            .where(and_(*conditions))
            .order_by(decisions.c.accepted_at, decisions.c.parcel_id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query).yield_per(5000):
                label = True if row.is_contraband else (False if row.is_observed else None)
                n = len(NUMERIC_FEATURES)
                features = [math.nan if v is None and i < n else v for i, v in enumerate(row.features)]
                yield LabelledRow(row.parcel_id, features, row.propensity, row.action, row.why, row.score,
                                  as_utc(row.accepted_at) or row.accepted_at, label)

    # --- worker status (read by the API's health endpoint) ----------------------------------------
    def heartbeat(self, worker_id: str, kind: str, status: dict[str, Any]) -> None:
        row = {"worker_id": worker_id, "kind": kind, "heartbeat_at": datetime.now(UTC), **status}
        with self.engine.begin() as conn:
            stmt = self._insert(workers).values(row)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["worker_id"], set_={k: stmt.excluded[k] for k in row if k != "worker_id"}
            ))

    def workers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(workers).order_by(workers.c.worker_id))
            return [{**dict(r._mapping), "heartbeat_at": as_utc(r.heartbeat_at)} for r in rows]

    # --- users and audit ------------------------------------------------------------------------
    def add_api_key(self, name: str, role: str, token: str, hub_id: str | None = None) -> None:
        with self.engine.begin() as conn:
            stmt = self._insert(api_keys).values(
                name=name, role=role, hub_id=hub_id, token_hash=token_digest(token), active=True,
                created_at=datetime.now(UTC),
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["name"], set_={"role": role, "hub_id": hub_id, "token_hash": token_digest(token)}
            ))
            self._audit(conn, "system", "add_api_key", None, {"name": name, "role": role, "hub_id": hub_id})

    def principal(self, token: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.token_hash == token_digest(token), api_keys.c.active.is_(True))
            ).first()
            return None if row is None else dict(row._mapping)

    def audit_for(self, parcel_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.parcel_id == parcel_id).order_by(audit_log.c.id))
            return [dict(row._mapping) for row in rows]

    def _audit(self, conn: Connection, actor: str, action: str, parcel_id: str | None, detail: dict[str, Any]) -> None:
        conn.execute(audit_log.insert().values(
            at=datetime.now(UTC), actor=actor, action=action, parcel_id=parcel_id, detail=detail
        ))


def _claim_free(now: datetime) -> Any:
    return or_(decisions.c.claimed_by.is_(None), decisions.c.claim_expires_at < now)


def _decision_from_row(row: Any) -> Decision:
    return Decision(
        parcel_id=row.parcel_id, hub_id=row.hub_id, action=row.action, why=row.why, score=row.score,
        propensity=row.propensity, model_name=row.model_name, model_version=row.model_version,
        reasons=[Reason.model_validate(r) for r in row.reasons], decided_at=as_utc(row.decided_at) or row.decided_at,
    )


def _row_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("accepted_at", "decided_at", "claim_expires_at"):
        data[key] = as_utc(data.get(key))
    return data
