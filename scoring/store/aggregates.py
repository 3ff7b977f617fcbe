"""Monitoring aggregates: the decision log folded per hour, hub and model version, and the windows judged.

The monitoring job (``scoring.monitoring.fold``) is the only writer: it recomputes whole hours from the
decision log and replaces their rows, so folding an hour twice, or two jobs folding it at once, leaves
the same rows (no running totals that a replayed parcel or a retried batch could count twice). The
analyst pages read these rows. The labels (what outcomes say of an hour's decisions) are folded too, and an
hour's label row is refolded whenever outcomes of its decisions are recorded: a page reads the folded rows,
and the log only for the hours with outcomes recorded since the job's last pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Select, Table, Text, and_, case, cast, func, or_, select, text
from sqlalchemy.engine import Connection

from models.features import upgrade_row
from scoring.db import (
    as_utc,
    decisions,
    monitor_counts,
    monitor_evaluated,
    monitor_histograms,
    monitor_labels,
    monitor_watermarks,
    outcomes,
)
from scoring.store.base import Repository

HOUR = timedelta(hours=1)
# Histograms are stored as raw little-endian int64s: read back with one frombuffer, where JSON lists of a
# thousand numbers each were most of a long period's read.
COUNTS_DTYPE = np.dtype("<i8")
LABELS = "labels"  # the watermark of the label fold: outcomes recorded up to then are in ``monitor_labels``


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
        for name in (f.name for f in fields(self)):
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
        """Label sums per hour and hub of the decisions accepted in [since, until): what ``labels_from_log`` says,
        read from the job's folded rows where they are known to be current.

        The log is read only for the hours the folded rows cannot answer exactly: hours cut by the period's ends,
        and hours with outcomes recorded after the job's last pass (few: the last minute's). Before the job has
        ever folded the labels (a fresh or just-upgraded store), the log answers everything."""
        mark = self.watermark(LABELS)
        if mark is None:
            return self.labels_from_log(since, until, hub_id)
        whole_from, whole_until = _ceil_hour(since), _floor_hour(until)
        if whole_from >= whole_until:
            return self.labels_from_log(since, until, hub_id)
        fresh = self.labelled_hours(mark, whole_from, whole_until)
        from_log = [(since, whole_from), (whole_until, until)] + [(h, h + HOUR) for h in sorted(fresh)]
        found = self._labels_of(_ranges([r for r in from_log if r[0] < r[1]]), hub_id, narrow=True)
        m = monitor_labels.c
        query = select(m.hour_start, m.hub_id, *(m[f.name] for f in fields(LabelSums))).where(
            m.hour_start >= whole_from, m.hour_start < whole_until, *([m.hub_id == hub_id] if hub_id else []))
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                hour = as_utc(r[0]) or r[0]
                if hour not in fresh:
                    found.append(HourLabels(hour, r[1], _sums(r[2:])))
        return sorted(found, key=lambda h: (h.hour_start, h.hub_id))

    def labels_from_log(self, since: datetime, until: datetime, hub_id: str | None = None) -> list[HourLabels]:
        """Label sums per hour and hub of the decisions accepted in [since, until), from the log itself."""
        return self._labels_of([(since, until)], hub_id)

    def _labels_of(self, ranges: Sequence[tuple[datetime, datetime]], hub_id: str | None,
                   narrow: bool = False) -> list[HourLabels]:
        """Label sums per hour and hub of the decisions accepted in any of ``ranges`` (``LabelSums.add`` in SQL).

        Driven from the outcomes (one per screened parcel, a few late findings), summed per parcel first, and
        summed per hour by the database: joined the other way SQLite walked every decision, and a row per
        labelled decision cost a long period a second in Python. ``narrow``: the ranges hold few decisions (a
        page's edge hours, a fold's batch), so the outcomes summed are only those of their parcels."""
        if not ranges:
            return []
        d, o = decisions.c, outcomes.c
        in_ranges = or_(*(and_(d.accepted_at >= a, d.accepted_at < b) for a, b in ranges))
        summed = (select(o.parcel_id, func.max(case((o.result == "contraband", 1), else_=0)).label("contraband"),
                         func.max(case((and_(o.result == "contraband", o.source == "late"), 1), else_=0))
                         .label("late"))
                  .group_by(o.parcel_id))
        if narrow:  # a few hours: sum only their parcels' outcomes, not every outcome in the store
            summed = summed.where(o.parcel_id.in_(select(d.parcel_id).where(in_ranges)))
        per_parcel = summed.subquery()
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
                 .where(in_ranges, *([d.hub_id == hub_id] if hub_id else []))
                 .group_by(bucket, d.hub_id))
        with self.engine.connect() as conn:
            return [HourLabels(_as_hour(r[0]), r[1], _sums(r[2:])) for r in conn.execute(query)]

    def labelled_hours(self, recorded_after: datetime, since: datetime | None = None,
                       until: datetime | None = None) -> set[datetime]:
        """Hours (of the decisions' acceptance, within [since, until) when given) with outcomes recorded after
        ``recorded_after``: the new outcomes joined to their decisions, by the index on ``recorded_at``."""
        d, o = decisions.c, outcomes.c
        # The period is applied here, not in SQL: given a range on accepted_at, SQLite drove the join from the
        # period's decisions (hundreds of thousands) rather than from the few new outcomes.
        query = (select(d.accepted_at).select_from(outcomes.join(decisions, d.parcel_id == o.parcel_id))
                 .where(o.recorded_at > recorded_after))
        with self.engine.connect() as conn:
            hours = {_floor_hour(as_utc(at) or at) for at in conn.execute(query).scalars()}
        return {h for h in hours if (since is None or h + HOUR > since) and (until is None or h < until)}

    def newest_outcome(self) -> datetime | None:
        with self.engine.connect() as conn:
            return as_utc(conn.execute(select(func.max(outcomes.c.recorded_at))).scalar())

    def replace_labels(self, hours: Sequence[datetime]) -> None:
        """Refold the label sums of ``hours`` from the log and replace their rows, in one transaction."""
        if not hours:
            return
        sums = self._labels_of(_ranges([(h, h + HOUR) for h in hours]), None, narrow=True)
        with self.engine.begin() as conn:
            for hour in hours:
                _lock_hour(conn, hour)
            conn.execute(monitor_labels.delete().where(monitor_labels.c.hour_start.in_(list(hours))))
            if sums:
                conn.execute(monitor_labels.insert(), [{
                    "hour_start": h.hour_start, "hub_id": h.hub_id, **asdict(h.sums)} for h in sums])

    def watermark(self, name: str) -> datetime | None:
        """How far the job has folded ``name`` (None: never)."""
        w = monitor_watermarks.c
        with self.engine.connect() as conn:
            return as_utc(conn.execute(select(w.value_at).where(w.name == name)).scalar())

    def set_watermark(self, name: str, value: datetime) -> None:
        with self.engine.begin() as conn:
            stmt = self._insert(monitor_watermarks)
            conn.execute(stmt.values(name=name, value_at=value).on_conflict_do_update(
                index_elements=["name"], set_={"value_at": stmt.excluded.value_at}))

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


def _sums(row: Sequence[Any]) -> LabelSums:
    return LabelSums(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]),
                     float(row[5]), float(row[6]), float(row[7]))


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(at: datetime) -> datetime:
    floor = _floor_hour(at)
    return floor if floor == at else floor + HOUR


def _ranges(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """``spans`` sorted, touching ones merged: one index range each in the query."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _lock_hour(conn: Connection, hour: datetime) -> None:
    """Two jobs folding the same hour on PostgreSQL take turns (SQLite's write lock already serialises them)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x50474D00 + int(hour.timestamp()) // 3600})
