"""The decision store: the only module that writes to the database.

Decisions are inserted idempotently (a replayed parcel keeps its first decision), together with the
entity-history stats they advanced, in one transaction. Claims are guarded updates so two screeners
never hold the same parcel: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on SQLite.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Table, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from models.features import NUMERIC_FEATURES, FeatureBuilder, FeatureRow, upgrade_row
from models.history import EntityStat, HistoryState
from models.manifest import Decision, Outcome, Reason
from scoring.db import (
    alerts,
    api_keys,
    as_utc,
    audit_log,
    decisions,
    entity_stats,
    hub_capacity,
    outcomes,
    sessions,
    workers,
)

_SEEN = ("count", "first_seen", "last_seen", "burst", "partners")  # moved by deciding
_FOUND = ("screened", "seized")  # moved by outcomes


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


def _found(rows: Sequence[Any]) -> tuple[int, int]:
    """(screened, seized) as 0/1 from a parcel's outcome rows (source, result)."""
    return (int(any(r.source == "xray" for r in rows)), int(any(r.result == "contraband" for r in rows)))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_DECISION_COLUMNS = (
    "parcel_id", "hub_id", "action", "why", "score", "propensity", "model_name", "model_version",
    "shadow_version", "shadow_score", "reasons", "features", "manifest", "origin_province", "accepted_at",
    "decided_at", "status",
)
_STAT_COLUMNS = ("key", *_SEEN, *_FOUND)  # the order of EntityStat's fields after the key
_STAT_SELECT = ", ".join(f'"{c}"' for c in _STAT_COLUMNS)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _bulk_write(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]],
                update: Sequence[str] = (), assignments: str | None = None) -> int:
    """Insert ``rows`` in one driver-level executemany: new keys are inserted, existing ones are left as
    they are (or, with ``update``, get those columns from the new row; or get ``assignments``, a SQL
    ``SET`` list). Returns the rows written.

    The scorer's two hot writes go through here. SQLAlchemy's executemany re-processes every parameter
    set in Python, which cost more than SQLite's own work (profiled, issue 3); the column types' bind
    processors still run, so stored values are exactly what SQLAlchemy would have written.
    """
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


def _read_stats(conn: Connection, keys: Iterable[str]) -> dict[str, EntityStat]:
    """Entity stats by key, read through the driver: the scorer reads them for every batch, and an
    expanding IN through SQLAlchemy cost more in Python than the lookups themselves."""
    wanted = list(set(keys))
    found: dict[str, EntityStat] = {}
    mark = _PLACEHOLDERS[conn.dialect.paramstyle]
    for start in range(0, len(wanted), 500):
        chunk = tuple(wanted[start : start + 500])
        sql = f'SELECT {_STAT_SELECT} FROM entity_stats WHERE "key" IN ({", ".join([mark] * len(chunk))})'
        for key, *values in conn.exec_driver_sql(sql, chunk):
            found[key] = EntityStat(*values)
    return found


def _processed(row: tuple[Any, ...], processors: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in processors:
        if values[i] is not None:
            values[i] = process(values[i])
    return tuple(values)


class Store:
    """Every read and write ParcelGuard makes to its database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def create_schema(self) -> None:
        """Bring the database to the newest migration (the schema only ever comes from scoring/migrations)."""
        from scoring import migrations  # Alembic is only needed here, not by every importer of the store

        migrations.upgrade(self.engine)

    # --- entity history -------------------------------------------------------------------------
    def load_entity_stats(self, keys: Iterable[str]) -> dict[str, EntityStat]:
        with self.engine.connect() as conn:
            return _read_stats(conn, keys)

    def _upsert_stats(self, conn: Connection, stats: dict[str, EntityStat], columns: Sequence[str]) -> None:
        """Insert or update entity rows; only ``columns`` of an existing row are overwritten (a bootstrap
        seeding whole rows; ``record_outcome`` moving the outcome counts, which scorers never write)."""
        if stats:
            rows = [(k, s.count, s.first_seen, s.last_seen, s.burst, s.partners, s.screened, s.seized)
                    for k, s in stats.items()]
            _bulk_write(conn, entity_stats, _STAT_COLUMNS, rows, update=columns)

    def _add_stats(self, conn: Connection, stats: dict[str, EntityStat], base: dict[str, tuple[int, int]]) -> None:
        """Add what a scorer counted since it read ``base`` (count, partners per key) to the stored rows.

        Counts add up, so scorers sharing an entity (a sender shipping through two hubs' partitions)
        never lose each other's parcels; first and last seen take the earlier and the later; the burst
        (a decaying count) is the latest writer's. Outcome counts are only moved by ``record_outcome``.
        """
        if not stats:
            return
        rows = []
        for key, s in stats.items():
            count, partners = base.get(key, (0, 0))
            rows.append((key, s.count - count, s.first_seen, s.last_seen, s.burst, s.partners - partners,
                         s.screened, s.seized))
        least, greatest = ("LEAST", "GREATEST") if conn.dialect.name == "postgresql" else ("MIN", "MAX")
        _bulk_write(conn, entity_stats, _STAT_COLUMNS, rows, assignments=(
            '"count" = entity_stats."count" + excluded."count", '
            "partners = entity_stats.partners + excluded.partners, "
            f"first_seen = {least}(entity_stats.first_seen, excluded.first_seen), "
            f"last_seen = {greatest}(entity_stats.last_seen, excluded.last_seen), "
            "burst = excluded.burst"))

    def save_entity_stats(self, stats: dict[str, EntityStat]) -> None:
        """Write whole entity rows (a bootstrap seeding the store, outcome counts included)."""
        with self.engine.begin() as conn:
            self._upsert_stats(conn, stats, (*_SEEN, *_FOUND))

    # --- decisions ------------------------------------------------------------------------------
    def existing_decisions(self, parcel_ids: Sequence[str]) -> dict[str, Decision]:
        if not parcel_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(decisions).where(decisions.c.parcel_id.in_(list(set(parcel_ids)))))
            return {row.parcel_id: _decision_from_row(row) for row in rows}

    def record_decisions(self, records: Sequence[DecisionRecord], stats: dict[str, EntityStat],
                         base: dict[str, tuple[int, int]] | None = None) -> int:
        """Insert new decisions (existing parcel ids keep their first decision) and add the entity counts
        they moved (``stats`` as counted, ``base`` as read: see ``_add_stats``)."""
        rows = [
            (
                r.decision.parcel_id, r.decision.hub_id, r.decision.action, r.decision.why, r.decision.score,
                r.decision.propensity, r.decision.model_name, r.decision.model_version, r.shadow_version,
                r.shadow_score, [reason.model_dump() for reason in r.decision.reasons], _json_safe(r.features),
                r.manifest, r.origin_province, r.accepted_at.astimezone(UTC), r.decision.decided_at,
                "pending" if r.decision.action == "SCREEN" else "released",
            )
            for r in records
        ]
        with self.engine.begin() as conn:
            inserted = _bulk_write(conn, decisions, _DECISION_COLUMNS, rows) if rows else 0
            self._add_stats(conn, stats, base or {})
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
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .where(decisions.c.hub_id == hub_id, decisions.c.status == "pending", _claim_free(now))
                .order_by(*_QUEUE_ORDER)
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

    def claim_next(self, hub_id: str, user: str, ttl: timedelta, now: datetime | None = None) -> str | None:
        """Take the highest-risk parcel nobody holds at a hub; None when none is free. Never hands one out twice."""
        now = now or datetime.now(UTC)
        free = and_(decisions.c.hub_id == hub_id, decisions.c.status == "pending", _claim_free(now))
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # Rows another claimer has locked are skipped, not waited for: each gets a different parcel.
                parcel_id = conn.execute(
                    select(decisions.c.parcel_id).where(free).order_by(*_QUEUE_ORDER).limit(1)
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
                first = select(decisions.c.parcel_id).where(free).order_by(*_QUEUE_ORDER).limit(1).scalar_subquery()
                parcel_id = conn.execute(
                    update(decisions).where(decisions.c.parcel_id == first, free)
                    .values(claimed_by=user, claim_expires_at=now + ttl).returning(decisions.c.parcel_id)
                ).scalar()
                taken = parcel_id is not None
            if not taken:
                return None
            self._audit(conn, user, "claim", parcel_id, {"ttl_s": ttl.total_seconds(), "next": True})
            return str(parcel_id)

    def release_claim(self, parcel_id: str, user: str) -> bool:
        """Give a held parcel back to the queue; False when ``user`` does not hold it."""
        with self.engine.begin() as conn:
            released = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == parcel_id, decisions.c.status == "pending",
                       decisions.c.claimed_by == user)
                .values(claimed_by=None, claim_expires_at=None)
            ).rowcount == 1
            if released:
                self._audit(conn, user, "release", parcel_id, {})
            return released

    def held_by(self, user: str, hub_id: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
        """Parcels ``user`` holds a live claim on (oldest claim first)."""
        now = now or datetime.now(UTC)
        conditions = [decisions.c.status == "pending", decisions.c.claimed_by == user,
                      decisions.c.claim_expires_at >= now]
        if hub_id is not None:
            conditions.append(decisions.c.hub_id == hub_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(decisions).where(*conditions).order_by(decisions.c.claim_expires_at))
            return [_row_dict(row) for row in rows]

    def hub_hour(self, hub_id: str, since: datetime, now: datetime | None = None) -> dict[str, int]:
        """A hub's queue in numbers: waiting, held by a live claim, flagged and screened since ``since``."""
        now = now or datetime.now(UTC)
        pending = and_(decisions.c.hub_id == hub_id, decisions.c.status == "pending")
        with self.engine.connect() as conn:
            waiting = conn.execute(select(func.count()).where(pending, _claim_free(now))).scalar_one()
            total = conn.execute(select(func.count()).where(pending)).scalar_one()
            screened = conn.execute(
                select(func.count())
                .select_from(outcomes.join(decisions, outcomes.c.parcel_id == decisions.c.parcel_id))
                .where(decisions.c.hub_id == hub_id, outcomes.c.source == "xray", outcomes.c.recorded_at >= since)
            ).scalar_one()
        return {"waiting": int(waiting), "held": int(total - waiting),
                "flagged": self.flagged_since(hub_id, since), "screened": int(screened)}

    def hubs_overview(self, since: datetime, now: datetime | None = None) -> list[dict[str, Any]]:
        """Per hub with anything pending or flagged since ``since``: waiting, held and flagged counts."""
        now = now or datetime.now(UTC)
        free = _claim_free(now)
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
        hubs: dict[str, dict[str, Any]] = {}
        for row in pending:
            hubs[row.hub_id] = {"hub_id": row.hub_id, "waiting": int(row.waiting or 0),
                                "held": int(row.total - (row.waiting or 0)), "flagged": 0}
        for row in flagged:
            hubs.setdefault(row.hub_id, {"hub_id": row.hub_id, "waiting": 0, "held": 0, "flagged": 0})
            hubs[row.hub_id]["flagged"] = int(row.n)
        return [hubs[k] for k in sorted(hubs)]

    def search_parcels(self, prefix: str, hub_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Decisions whose parcel id starts with ``prefix`` (a scanned or typed waybill number)."""
        conditions = [decisions.c.parcel_id.startswith(prefix, autoescape=True)]
        if hub_id is not None:
            conditions.append(decisions.c.hub_id == hub_id)
        columns = [decisions.c[name] for name in ("parcel_id", "hub_id", "action", "why", "score", "status",
                                                  "decided_at")]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).where(*conditions).order_by(decisions.c.parcel_id).limit(limit))
            return [_row_dict(row) for row in rows]

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
            before = _found(conn.execute(select(outcomes.c.source, outcomes.c.result)
                                         .where(outcomes.c.parcel_id == outcome.parcel_id)).all())
            stmt = self._insert(outcomes).values(row)
            stmt = stmt.on_conflict_do_update(
                index_elements=["parcel_id", "source"],
                set_={k: stmt.excluded[k] for k in row if k not in ("parcel_id", "source")},
            )
            conn.execute(stmt)
            after = _found(conn.execute(select(outcomes.c.source, outcomes.c.result)
                                        .where(outcomes.c.parcel_id == outcome.parcel_id)).all())
            if after != before:
                self._count_outcome(conn, outcome.parcel_id, after[0] - before[0], after[1] - before[1])
            known = conn.execute(
                update(decisions)
                .where(decisions.c.parcel_id == outcome.parcel_id)
                .values(status="screened" if outcome.source == "xray" else decisions.c.status,
                        claimed_by=None, claim_expires_at=None)
            ).rowcount
            self._audit(conn, actor, "outcome", outcome.parcel_id,
                        {"result": outcome.result, "source": outcome.source,
                         "contraband_type": outcome.contraband_type, "quantity_g": outcome.quantity_g})
        return bool(known)

    def _count_outcome(self, conn: Connection, parcel_id: str, screened: int, seized: int) -> None:
        """Move the outcome counts of the parcel's entities, so parcels decided from now on see them."""
        stored = conn.execute(select(decisions.c.manifest, decisions.c.accepted_at)
                              .where(decisions.c.parcel_id == parcel_id)).first()
        if stored is None or not isinstance(stored.manifest, dict):
            return  # an outcome for a parcel this service never decided: no entities to credit
        keys = FeatureBuilder.keys_from_redacted(stored.manifest)
        at = (as_utc(stored.accepted_at) or stored.accepted_at).timestamp()
        state = HistoryState(stats=_read_stats(conn, keys.all()))
        state.record_outcome(keys, screened, seized, at)
        self._upsert_stats(conn, {k: state.stats[k] for k in state.dirty}, _FOUND)

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
                features = upgrade_row(row.features)
                if features is None:
                    continue  # logged in a feature layout this code cannot read: left out, never misread
                features = [math.nan if v is None and i < n else v for i, v in enumerate(features)]
                yield LabelledRow(row.parcel_id, features, row.propensity, row.action, row.why, row.score,
                                  as_utc(row.accepted_at) or row.accepted_at, label)

    # --- monitoring reads and alerts (training/monitor.py) -----------------------------------------
    def decision_time_range(self) -> tuple[datetime, datetime] | None:
        """Event times (accepted_at) of the first and last logged decision, or None when there are none."""
        with self.engine.connect() as conn:
            accepted = decisions.c.accepted_at
            first, last = conn.execute(select(func.min(accepted), func.max(accepted))).one()
        return None if first is None else (as_utc(first) or first, as_utc(last) or last)

    def monitoring_rows(self, since: datetime, until: datetime, hub_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Decisions accepted in [since, until) with what monitoring needs, and their label where known:
        ``label`` True (any outcome says contraband), False (screened, nothing says so) or None;
        ``late`` True when contraband surfaced on a released parcel."""
        contraband = select(outcomes.c.parcel_id).where(outcomes.c.result == "contraband").scalar_subquery()
        late = select(outcomes.c.parcel_id).where(
            outcomes.c.result == "contraband", outcomes.c.source == "late").scalar_subquery()
        observed = select(outcomes.c.parcel_id).scalar_subquery()
        conditions: list[Any] = [decisions.c.accepted_at >= since, decisions.c.accepted_at < until]
        if hub_id is not None:
            conditions.append(decisions.c.hub_id == hub_id)
        c = decisions.c
        query = select(
            c.parcel_id, c.hub_id, c.action, c.why, c.score, c.propensity, c.model_version, c.shadow_version,
            c.shadow_score, c.origin_province, c.accepted_at, c.features,
            c.parcel_id.in_(contraband).label("is_contraband"), c.parcel_id.in_(late).label("is_late"),
            c.parcel_id.in_(observed).label("is_observed"),
        ).where(and_(*conditions)).order_by(c.accepted_at, c.parcel_id)
        n = len(NUMERIC_FEATURES)
        with self.engine.connect() as conn:
            for row in conn.execute(query).yield_per(5000):
                data = dict(row._mapping)
                data["accepted_at"] = as_utc(row.accepted_at)
                features = None if row.features is None else upgrade_row(row.features)
                data["features"] = None if features is None else [
                    math.nan if v is None and i < n else v for i, v in enumerate(features)]
                data["label"] = True if row.is_contraband else (False if row.is_observed else None)
                data["late"] = bool(row.is_late)
                yield data

    def decisions_by_version(self) -> dict[str, dict[str, int]]:
        """Per model version: decisions it made ("acted") and parcels it scored in shadow."""
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for column, role in ((decisions.c.model_version, "acted"), (decisions.c.shadow_version, "shadow")):
                query = select(column, func.count()).where(column.is_not(None)).group_by(column)
                for version, n in conn.execute(query):
                    counts.setdefault(str(version), {"acted": 0, "shadow": 0})[role] = int(n)
        return counts

    def record_alerts(self, rows: Sequence[dict[str, Any]]) -> int:
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

    def alerts(self, limit: int = 100, open_only: bool = False, since: datetime | None = None) -> list[dict[str, Any]]:
        """Newest windows first; ``open_only`` leaves out acknowledged alerts."""
        query = select(alerts)
        if open_only:
            query = query.where(alerts.c.acknowledged_at.is_(None))
        if since is not None:
            query = query.where(alerts.c.window_start >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(alerts.c.window_start.desc(), alerts.c.id.desc()).limit(limit))
            return [_alert_dict(row) for row in rows]

    def acknowledge_alert(self, alert_id: int, user: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
                .values(acknowledged_by=user, acknowledged_at=datetime.now(UTC))
            ).rowcount
            if done:
                self._audit(conn, user, "acknowledge_alert", None, {"alert_id": alert_id})
            return bool(done)

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
    def add_api_key(self, name: str, role: str, token: str, hub_id: str | None = None, actor: str = "system") -> None:
        """Issue (or re-issue, replacing the old secret) a key; only its SHA-256 is kept."""
        with self.engine.begin() as conn:
            stmt = self._insert(api_keys).values(
                name=name, role=role, hub_id=hub_id, token_hash=token_digest(token), active=True,
                created_at=datetime.now(UTC),
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"role": role, "hub_id": hub_id, "token_hash": token_digest(token), "active": True,
                      "created_at": stmt.excluded.created_at},
            ))
            self._audit(conn, actor, "add_api_key", None, {"name": name, "role": role, "hub_id": hub_id})

    def api_key(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_KEY_COLUMNS).where(api_keys.c.name == name)).first()
            return None if row is None else {**dict(row._mapping), "created_at": as_utc(row.created_at)}

    def list_api_keys(self) -> list[dict[str, Any]]:
        """Every key's name, role, hub and state (never its hash)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_KEY_COLUMNS).order_by(api_keys.c.name))
            return [{**dict(row._mapping), "created_at": as_utc(row.created_at)} for row in rows]

    def revoke_api_key(self, name: str, actor: str) -> bool:
        """Deactivate a key and every bearer token issued for it; False when no active key has that name."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_keys).where(api_keys.c.name == name, api_keys.c.active.is_(True)).values(active=False)
            ).rowcount == 1
            if done:
                conn.execute(update(sessions).where(sessions.c.key_name == name).values(revoked=True))
                self._audit(conn, actor, "revoke_api_key", None, {"name": name})
            return done

    def open_session(self, key_name: str, ttl: timedelta, purpose: str = "token") -> tuple[str, datetime]:
        """A new random bearer token for an active key, valid for ``ttl``; the token is returned once."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(token_hash=token_digest(token), key_name=key_name, created_at=now,
                                                  expires_at=now + ttl, revoked=False))
            self._audit(conn, key_name, "sign_in", None, {"via": purpose, "ttl_s": ttl.total_seconds()})
        return token, now + ttl

    def close_session(self, token: str) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(select(sessions.c.key_name).where(sessions.c.token_hash == token_digest(token),
                                                                 sessions.c.revoked.is_(False))).first()
            if row is None:
                return False
            conn.execute(update(sessions).where(sessions.c.token_hash == token_digest(token)).values(revoked=True))
            self._audit(conn, row.key_name, "sign_out", None, {})
            return True

    def principal(self, token: str) -> dict[str, Any] | None:
        """Who an API key or a live bearer token belongs to (name, role, hub_id, via key or token), or None."""
        digest = token_digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_KEY_COLUMNS).where(api_keys.c.token_hash == digest, api_keys.c.active.is_(True))
            ).first()
            if row is not None:
                return {**dict(row._mapping), "via": "key"}
            row = conn.execute(
                select(*_KEY_COLUMNS).join(sessions, sessions.c.key_name == api_keys.c.name)
                .where(sessions.c.token_hash == digest, sessions.c.revoked.is_(False),
                       sessions.c.expires_at > datetime.now(UTC), api_keys.c.active.is_(True))
            ).first()
            return None if row is None else {**dict(row._mapping), "via": "token"}

    # --- hub capacity set by an admin (overrides the configured figure) ---------------------------
    def hub_capacities(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(hub_capacity).order_by(hub_capacity.c.hub_id))
            return {r.hub_id: {**dict(r._mapping), "updated_at": as_utc(r.updated_at)} for r in rows}

    def set_hub_capacity(self, hub_id: str, per_hour: int | None, actor: str) -> None:
        """Set a hub's X-ray parcels per hour, or with None go back to the configured figure."""
        with self.engine.begin() as conn:
            if per_hour is None:
                conn.execute(hub_capacity.delete().where(hub_capacity.c.hub_id == hub_id))
            else:
                row = {"hub_id": hub_id, "per_hour": per_hour, "updated_by": actor, "updated_at": datetime.now(UTC)}
                stmt = self._insert(hub_capacity).values(row)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["hub_id"], set_={k: stmt.excluded[k] for k in row if k != "hub_id"}))
            self._audit(conn, actor, "set_capacity", None, {"hub_id": hub_id, "per_hour": per_hour})

    # --- audit ------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, parcel_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        """Record an action taken outside the database (a watch-list edit) with who and when."""
        with self.engine.begin() as conn:
            self._audit(conn, actor, action, parcel_id, detail or {})

    def audit_for(self, parcel_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.parcel_id == parcel_id).order_by(audit_log.c.id))
            return [{**dict(row._mapping), "at": as_utc(row.at)} for row in rows]

    def recent_audit(self, limit: int = 100, actor: str | None = None) -> list[dict[str, Any]]:
        """The newest audit entries, optionally one actor's."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with self.engine.connect() as conn:
            return [{**dict(row._mapping), "at": as_utc(row.at)} for row in conn.execute(query)]

    def _audit(self, conn: Connection, actor: str, action: str, parcel_id: str | None, detail: dict[str, Any]) -> None:
        conn.execute(audit_log.insert().values(
            at=datetime.now(UTC), actor=actor, action=action, parcel_id=parcel_id, detail=detail
        ))


_KEY_COLUMNS = (api_keys.c.name, api_keys.c.role, api_keys.c.hub_id, api_keys.c.active, api_keys.c.created_at)

# Highest risk first: hard-rule hits, then by model score, oldest first among equals.
_QUEUE_ORDER = ((decisions.c.why == "rule").desc(), decisions.c.score.desc().nulls_last(), decisions.c.accepted_at,
                decisions.c.parcel_id)


def _claim_free(now: datetime) -> Any:
    return or_(decisions.c.claimed_by.is_(None), decisions.c.claim_expires_at < now)


def _decision_from_row(row: Any) -> Decision:
    return Decision(
        parcel_id=row.parcel_id, hub_id=row.hub_id, action=row.action, why=row.why, score=row.score,
        propensity=row.propensity, model_name=row.model_name, model_version=row.model_version,
        reasons=[Reason.model_validate(r) for r in row.reasons], decided_at=as_utc(row.decided_at) or row.decided_at,
    )


def _alert_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("window_start", "window_end", "first_seen_at", "last_seen_at", "acknowledged_at"):
        data[key] = as_utc(data.get(key))
    return data


def _row_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("accepted_at", "decided_at", "claim_expires_at"):
        data[key] = as_utc(data.get(key))
    return data
