"""Typed rows the store hands out, one family per entity: what callers read instead of ``dict[str, Any]``.

Writes take the domain's own types (``Decision``, ``Outcome``) or ``DecisionRecord``; reads return frozen
rows with aware UTC datetimes: ``StoredDecision`` extends the published ``Decision`` (pydantic), the others
are dataclasses. Monitoring rows stay a ``TypedDict``: the monitoring report reads them by key and its
tests build them by hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import ConfigDict

from models.features import FeatureRow, is_numeric_feature, upgrade_row
from models.manifest import Action, Decision, Reason, Why
from scoring.db import as_utc

Status = Literal["pending", "screened", "released"]
Result = Literal["clear", "contraband"]
Source = Literal["xray", "late"]


def logged_row(features: dict[str, Any]) -> FeatureRow:
    """A feature row as the store keeps it (JSON: NaN written as null) back to the row the model read."""
    return {name: math.nan if value is None and is_numeric_feature(name) else value
            for name, value in features.items()}


def _at(value: datetime) -> datetime:
    return as_utc(value) or value


def decision_from_row(row: Any) -> Decision:
    """The published ``Decision`` from a decision-log row (or a ``StoredDecision``): the one place it is rebuilt."""
    return Decision(
        parcel_id=row.parcel_id, hub_id=row.hub_id, action=row.action, why=row.why, score=row.score,
        propensity=row.propensity, model_name=row.model_name, model_version=row.model_version,
        reasons=[Reason.model_validate(r) for r in row.reasons], decided_at=_at(row.decided_at),
    )


# --- decisions --------------------------------------------------------------------------------------
@dataclass
class DecisionRecord:
    """A decision to store, plus what it was made from: the logged feature row and the redacted manifest."""

    decision: Decision
    features: FeatureRow | None
    manifest: dict[str, Any]
    accepted_at: datetime
    origin_province: str | None
    shadow_version: str | None = None
    shadow_score: float | None = None


class StoredDecision(Decision):
    """A logged decision: the published ``Decision`` plus what it was made from and its queue state."""

    model_config = ConfigDict(frozen=True)

    shadow_version: str | None
    shadow_score: float | None
    features: dict[str, Any] | None  # as stored (JSON: a missing value written as null), old layouts upgraded
    manifest: dict[str, Any]  # redacted: personal fields are keyed hashes
    origin_province: str | None
    accepted_at: datetime
    status: Status
    claimed_by: str | None
    claim_expires_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> StoredDecision:
        data = dict(row._mapping)
        data["features"] = None if row.features is None else upgrade_row(row.features)
        data.update(manifest=row.manifest if isinstance(row.manifest, dict) else {}, reasons=row.reasons or [],
                    accepted_at=_at(row.accepted_at), decided_at=_at(row.decided_at),
                    claim_expires_at=as_utc(row.claim_expires_at))
        return cls.model_validate(data)

    def to_decision(self) -> Decision:
        """The decision as it was published on parcel.decisions."""
        return decision_from_row(self)

    def holder(self, now: datetime) -> str | None:
        """Who holds a live claim on the parcel at ``now``, if anyone."""
        expires = self.claim_expires_at
        return self.claimed_by if self.claimed_by and expires and expires >= now else None


@dataclass(frozen=True, slots=True)
class ParcelHit:
    """A search hit: the decision's headline, found by (the start of) its parcel id."""

    parcel_id: str
    hub_id: str
    action: Action
    why: Why
    score: float | None
    status: str
    decided_at: datetime


# --- the queue --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HubHour:
    """A hub's queue in numbers since the start of an hour."""

    waiting: int
    held: int
    flagged: int
    screened: int


@dataclass(frozen=True, slots=True)
class HubLoad:
    """A hub with anything pending or flagged lately: waiting, held and flagged counts."""

    hub_id: str
    waiting: int = 0
    held: int = 0
    flagged: int = 0


@dataclass(frozen=True, slots=True)
class HubPace:
    """How a hub's line keeps up: the oldest flagged parcel nobody holds, and X-ray outcomes in the last hour."""

    hub_id: str
    oldest_waiting_since: datetime | None = None
    screened_last_hour: int = 0


@dataclass(frozen=True, slots=True)
class ScoreScale:
    """A hub's scored parcels over a period, to place one parcel among them: how many, their mean score, and
    the scores at or above a floor (the few that can outrank the parcels being placed), highest first."""

    count: int
    mean: float | None
    top: tuple[float, ...] = ()

    def rank(self, score: float) -> int:
        """1 for the highest; parcels of equal score share the better rank."""
        return 1 + sum(1 for s in self.top if s > score)


# --- outcomes ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoredOutcome:
    """What screening (``xray``) or a later finding (``late``) said about a parcel, and who recorded it."""

    id: int
    parcel_id: str
    screened_at: datetime
    result: Result
    contraband_type: str | None
    quantity_g: float | None
    source: Source
    note: str | None
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredOutcome:
        data = dict(row._mapping)
        return cls(**{**data, "screened_at": _at(row.screened_at), "recorded_at": _at(row.recorded_at)})


# --- reads for training and monitoring --------------------------------------------------------------
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


class MonitoringRow(TypedDict):
    """A decision with what monitoring needs, and its label where known (``late``: contraband surfaced on a
    released parcel)."""

    parcel_id: str
    hub_id: str
    action: str
    why: str
    score: float | None
    propensity: float
    model_version: str | None
    shadow_version: str | None
    shadow_score: float | None
    origin_province: str | None
    accepted_at: datetime
    features: FeatureRow | None
    is_contraband: bool
    is_late: bool
    is_observed: bool
    label: bool | None
    late: bool


# --- access -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ApiKeyPublic:
    """An API key as anyone may see it: never its hash."""

    name: str
    role: str
    hub_id: str | None
    active: bool
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyHolder(ApiKeyPublic):
    """Whom a presented API key or bearer token belongs to, and which of the two it was."""

    via: str = "key"  # key | token


# --- operations -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoredAlert:
    """A drift or performance alert, one per kind, scope, window and model version."""

    id: int
    key: str
    kind: str
    severity: str
    scope: str
    granularity: str
    window_start: datetime | None
    window_end: datetime | None
    model_name: str | None
    model_version: str | None
    message: str
    detail: dict[str, Any]
    value: float | None
    threshold: float | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> StoredAlert:
        data = dict(row._mapping)
        for key in ("window_start", "window_end", "first_seen_at", "last_seen_at", "acknowledged_at"):
            data[key] = as_utc(data.get(key))
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """A worker's last heartbeat and the counters it reported."""

    worker_id: str
    kind: str
    model_version: str | None
    fail_safe: bool
    consumed: int
    decided: int
    dead_lettered: int
    last_error: str | None
    heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class CapacityOverride:
    """X-ray parcels per hour an admin set for a hub (overrides the configured figure)."""

    hub_id: str
    per_hour: int
    updated_by: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Hub:
    """A registered hub: its id, name, IANA time zone and default X-ray parcels per hour (None: none set)."""

    hub_id: str
    name: str
    time_zone: str
    default_capacity: int | None = None
    updated_by: str = "config"
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited action: who did what, when, to which parcel."""

    id: int
    at: datetime
    actor: str
    action: str
    parcel_id: str | None
    detail: dict[str, Any] | None = field(default=None)
