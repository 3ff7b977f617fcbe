"""Monitoring aggregates: the decision log folded per hour, hub and model version, and the windows judged.

The monitoring job (``scoring.monitoring.fold``) is the only writer: it recomputes whole hours from the
decision log and replaces their rows, so folding an hour twice, or two jobs folding it at once, leaves
the same rows (no running totals that a replayed parcel or a retried batch could count twice). The
analyst pages read these rows, and the labels of their decisions straight from the outcomes (few: only
screened parcels and late findings), since outcomes keep arriving after an hour is folded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Select, Table, Text, and_, case, cast, func, select, text
from sqlalchemy.engine import Connection

from models.features import upgrade_row
from scoring.db import as_utc, decisions, monitor_counts, monitor_evaluated, monitor_histograms, outcomes
from scoring.store.base import Repository

HOUR = timedelta(hours=1)
# Histograms are stored as raw little-endian int64s: read back with one frombuffer, where JSON lists of a
# thousand numbers each were most of a long period's read.
COUNTS_DTYPE = np.dtype("<i8")


@dataclass
class HourCounts:
    """Decisions of one hour at one hub by the version that acted ("" when none scored)."""

    hour_start: datetime
    hub_id: str
    model_version: str
    total: int = 0
    in_scope: int = 0
    released: int = 0
    flagged_by_why: dict[str, int] | None = None
    by_origin: dict[str, int] | None = None
    capacity_per_hour: int | None = None


@dataclass
class HourHistogram:
    """One version's binned features and scores over one hour at one hub (``role``: in service | shadow)."""

    hour_start: datetime
    hub_id: str
    model_version: str
    role: str
    bins_id: str
    rows: int
    counts: np.ndarray


@dataclass(frozen=True, slots=True)
class LabelledDecision:
    """A decision with an outcome: what the hit and miss rates are estimated from."""

    accepted_at: datetime
    hub_id: str
    action: str
    why: str
    propensity: float
    contraband: bool
    late: bool


@dataclass
class LabelSums:
    """What outcomes say about decisions (an hour's, a window's): hit rates and the exploration miss-rate sums."""

    screened_labelled: int = 0
    screened_hits: int = 0
    model_labelled: int = 0
    model_hits: int = 0
    late_hits: int = 0
    explored_w: float = 0.0  # sum of 1/propensity over labelled exploration screenings
    explored_wy: float = 0.0
    explored_ww: float = 0.0

    def add(self, d: LabelledDecision) -> None:
        if d.why == "out_of_scope":
            return
        if d.action != "SCREEN":
            self.late_hits += d.late
            return
        if d.late:  # contraband found after the parcel was screened clear is not the screening's outcome
            return
        self.screened_labelled += 1
        self.screened_hits += d.contraband
        if d.why == "model":
            self.model_labelled += 1
            self.model_hits += d.contraband
        elif d.why == "exploration" and d.propensity > 0:
            w = 1.0 / d.propensity
            self.explored_w += w
            self.explored_wy += w * d.contraband
            self.explored_ww += w * w


    def merge(self, other: LabelSums) -> None:
        for name in ("screened_labelled", "screened_hits", "model_labelled", "model_hits", "late_hits",
                     "explored_w", "explored_wy", "explored_ww"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class HourLabels:
    """The label sums of one hour's decisions at one hub."""

    hour_start: datetime
    hub_id: str
    sums: LabelSums


@dataclass(frozen=True, slots=True)
class FoldRow:
    """What folding reads of a decision: its hub, verdict, versions, scores, origin and feature row (as logged:
    a missing number is None)."""

    accepted_at: datetime
    hub_id: str
    action: str
    why: str
    model_version: str | None
    score: float | None
    shadow_version: str | None
    shadow_score: float | None
    origin_province: str | None
    features: dict[str, Any] | None


def _hour_bucket(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", decisions.c.accepted_at))
    return func.strftime("%Y-%m-%d %H:00:00", decisions.c.accepted_at)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Aggregates(Repository):
    """Hourly counts and histograms (written by the monitoring job), and which windows were judged."""

    def decided_per_hour(self, since: datetime | None = None) -> dict[datetime, int]:
        """Decisions logged per hour (UTC start) from ``since``, counted by the database."""
        bucket = _hour_bucket(self.engine.dialect.name).label("hour")
        query = select(bucket, func.count()).group_by(bucket)
        if since is not None:
            query = query.where(decisions.c.accepted_at >= since)
        with self.engine.connect() as conn:
            return {_as_hour(hour): int(n) for hour, n in conn.execute(query)}

    def folded_per_hour(self, since: datetime | None = None) -> dict[datetime, int]:
        """Decisions folded per hour, as the job last counted them."""
        query = select(monitor_counts.c.hour_start, func.sum(monitor_counts.c.total)).group_by(
            monitor_counts.c.hour_start)
        if since is not None:
            query = query.where(monitor_counts.c.hour_start >= since)
        with self.engine.connect() as conn:
            return {as_utc(hour) or hour: int(n) for hour, n in conn.execute(query)}

    def fold_rows(self, since: datetime, until: datetime) -> Iterator[FoldRow]:
        """Decisions accepted in [since, until), their feature rows decoded (the one place that decodes them)."""
        c = decisions.c
        # The features come as text (cast in SQL, so psycopg does not decode them either) and are decoded with
        # orjson: the JSON type's stdlib decoder was a third of folding's cost.
        query = select(c.accepted_at, c.hub_id, c.action, c.why, c.model_version, c.score, c.shadow_version,
                       c.shadow_score, c.origin_province, cast(c.features, Text)).where(
            c.accepted_at >= since, c.accepted_at < until)
        with self.engine.connect() as conn:
            for row in conn.execute(query).yield_per(5000):
                raw = row[9]
                features = None if raw is None else upgrade_row(orjson.loads(raw) if isinstance(raw, str | bytes)
                                                                else raw)
                yield FoldRow(as_utc(row.accepted_at) or row.accepted_at, row.hub_id, row.action, row.why,
                              row.model_version, row.score, row.shadow_version, row.shadow_score,
                              row.origin_province, features)

    def replace_hours(self, hours: Sequence[datetime],
                      folded: Mapping[datetime, tuple[Sequence[HourCounts], Sequence[HourHistogram]]]) -> None:
        """Replace everything folded for ``hours`` with ``folded`` (an hour missing from it had no decisions);
        one transaction: readers see the old hours or the new ones."""
        now = datetime.now(UTC)
        counts = [c for hour in hours for c in folded.get(hour, ((), ()))[0]]
        histograms = [h for hour in hours for h in folded.get(hour, ((), ()))[1]]
        with self.engine.begin() as conn:
            for hour in hours:
                _lock_hour(conn, hour)
            conn.execute(monitor_counts.delete().where(monitor_counts.c.hour_start.in_(list(hours))))
            conn.execute(monitor_histograms.delete().where(monitor_histograms.c.hour_start.in_(list(hours))))
            if counts:
                conn.execute(monitor_counts.insert(), [{
                    "hour_start": c.hour_start, "hub_id": c.hub_id, "model_version": c.model_version,
                    "total": c.total, "in_scope": c.in_scope, "released": c.released,
                    "flagged_by_why": c.flagged_by_why or {}, "by_origin": c.by_origin or {},
                    "capacity_per_hour": c.capacity_per_hour, "folded_at": now,
                } for c in counts])
            if histograms:
                conn.execute(monitor_histograms.insert(), [{
                    "hour_start": h.hour_start, "hub_id": h.hub_id, "model_version": h.model_version, "role": h.role,
                    "bins_id": h.bins_id, "rows": h.rows, "counts": h.counts.astype(COUNTS_DTYPE).tobytes(),
                } for h in histograms])

    def counts(self, since: datetime, until: datetime, hub_id: str | None = None) -> list[HourCounts]:
        with self.engine.connect() as conn:
            return [HourCounts(as_utc(r.hour_start) or r.hour_start, r.hub_id, r.model_version, r.total, r.in_scope,
                               r.released, dict(r.flagged_by_why), dict(r.by_origin), r.capacity_per_hour)
                    for r in conn.execute(_hours(select(monitor_counts), monitor_counts, since, until, hub_id))]

    def histograms(self, since: datetime, until: datetime, hub_id: str | None = None) -> list[HourHistogram]:
        h = monitor_histograms.c
        query = select(h.hour_start, h.hub_id, h.model_version, h.role, h.bins_id, h.rows, h.counts)
        with self.engine.connect() as conn:
            return [HourHistogram(as_utc(r[0]) or r[0], r[1], r[2], r[3], r[4], r[5],
                                  np.frombuffer(r[6], dtype=COUNTS_DTYPE).astype(np.int64))
                    for r in conn.execute(_hours(query, monitor_histograms, since, until, hub_id))]

    def hubs(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(monitor_counts.c.hub_id).distinct()).scalars())

    def labels(self, since: datetime, until: datetime, hub_id: str | None = None) -> list[HourLabels]:
        """Label sums per hour and hub of the decisions accepted in [since, until) (``LabelSums.add`` in SQL).

        Driven from the outcomes (one per screened parcel, a few late findings), summed per parcel first, and
        summed per hour by the database: joined the other way SQLite walked every decision, and a row per
        labelled decision cost a long period a second in Python."""
        d, o = decisions.c, outcomes.c
        per_parcel = (select(o.parcel_id, func.max(case((o.result == "contraband", 1), else_=0)).label("contraband"),
                             func.max(case((and_(o.result == "contraband", o.source == "late"), 1), else_=0))
                             .label("late"))
                      .group_by(o.parcel_id).subquery())
        found, late = per_parcel.c.contraband, per_parcel.c.late
        in_scope = d.why != "out_of_scope"
        screened = and_(in_scope, d.action == "SCREEN", late == 0)
        by_model = and_(screened, d.why == "model")
        explored = and_(screened, d.why == "exploration", d.propensity > 0)
        weight = 1.0 / d.propensity

        def total(condition: Any, value: Any = 1, zero: Any = 0) -> Any:
            return func.coalesce(func.sum(case((condition, value), else_=zero)), zero)

        bucket = _hour_bucket(self.engine.dialect.name)
        query = (select(bucket, d.hub_id, total(screened), total(screened, found), total(by_model),
                        total(by_model, found), total(and_(in_scope, d.action != "SCREEN"), late),
                        total(explored, weight, 0.0), total(explored, weight * found, 0.0),
                        total(explored, weight * weight, 0.0))
                 .select_from(per_parcel.join(decisions, d.parcel_id == per_parcel.c.parcel_id))
                 .where(d.accepted_at >= since, d.accepted_at < until, *([d.hub_id == hub_id] if hub_id else []))
                 .group_by(bucket, d.hub_id))
        with self.engine.connect() as conn:
            return [HourLabels(_as_hour(r[0]), r[1], LabelSums(int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
                                                               float(r[7]), float(r[8]), float(r[9])))
                    for r in conn.execute(query)]

    def acted_per_version(self) -> dict[str, dict[str, int]]:
        """Decisions each version made ("acted", every one folded) and parcels it scored in shadow (those with
        a feature row), from the aggregates: counting the log itself walked every decision."""
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            acted = select(monitor_counts.c.model_version, func.sum(monitor_counts.c.total)).where(
                monitor_counts.c.model_version != "").group_by(monitor_counts.c.model_version)
            for version, n in conn.execute(acted):
                found.setdefault(version, {"acted": 0, "shadow": 0})["acted"] = int(n)
            h = monitor_histograms.c
            shadow = select(h.model_version, func.sum(h.rows)).where(h.role == "shadow").group_by(h.model_version)
            for version, n in conn.execute(shadow):
                found.setdefault(version, {"acted": 0, "shadow": 0})["shadow"] = int(n)
        return found

    def evaluated(self, granularity: str, starts: Sequence[datetime]) -> set[datetime]:
        """Which of these windows the job has already judged."""
        if not starts:
            return set()
        e = monitor_evaluated.c
        with self.engine.connect() as conn:
            found = conn.execute(select(e.window_start).where(e.granularity == granularity,
                                                              e.window_start.in_(list(starts)))).scalars()
            return {as_utc(s) or s for s in found}

    def mark_evaluated(self, granularity: str, starts: Sequence[datetime]) -> None:
        if not starts:
            return
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            stmt = self._insert(monitor_evaluated)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["granularity", "window_start"]),
                         [{"granularity": granularity, "window_start": s, "evaluated_at": now} for s in starts])


def _hours(query: Select[Any], table: Table, since: datetime, until: datetime, hub_id: str | None) -> Select[Any]:
    """``query`` narrowed to the hours overlapping [since, until) (and one hub), oldest first."""
    query = query.where(table.c.hour_start > since - HOUR, table.c.hour_start < until)
    if hub_id is not None:
        query = query.where(table.c.hub_id == hub_id)
    return query.order_by(table.c.hour_start)


def _lock_hour(conn: Connection, hour: datetime) -> None:
    """Two jobs folding the same hour on PostgreSQL take turns (SQLite's write lock already serialises them)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x50474D00 + int(hour.timestamp()) // 3600})
