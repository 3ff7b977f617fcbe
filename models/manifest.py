"""The wire contracts hubs integrate with: manifests in, outcomes in, decisions out.

Extra fields are kept (hubs add their own), categorical values are free strings (normalised in
``models.features``), and every optional field may be null or absent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
# Hub and parcel ids: the same rule the API's path parameters apply, so every stored id can be worked.
ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"
# Event times outside this window are typos or poison (year 1 overflows the feature code): rejected at intake.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def check_event_time(name: str, value: datetime) -> datetime:
    """``value`` if it has a UTC offset and lies between 2000-01-01 and a day from now, else a ValueError."""
    if value.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset, e.g. 2026-11-20T21:14:05+08:00")
    # Compared as aware datetimes (no conversion to UTC, which overflows for year 1 with a +14:00 offset).
    if value < EARLIEST_EVENT:
        raise ValueError(f"{name} {value.isoformat()} is before {EARLIEST_EVENT.date().isoformat()}")
    latest = datetime.now(UTC) + FUTURE_SLACK
    if value > latest:
        raise ValueError(f"{name} {value.isoformat()} is more than a day in the future")
    return value
Action = Literal["SCREEN", "RELEASE"]
Why = Literal["model", "rule", "exploration", "fail_safe", "out_of_scope"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


class Origin(_Open):
    province: str = Field(min_length=1, max_length=64)
    city: str | None = None
    district: str | None = None
    postcode: str | None = None
    outlet_id: str | None = None


class Destination(_Open):
    province: str = Field(min_length=1, max_length=64)
    city: str | None = None
    district: str | None = None
    address: str | None = None
    address_type: str | None = None


class Sender(_Open):
    name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    account_id: str | None = None
    account_opened: date | None = None
    id_verified: bool | None = None


class Recipient(_Open):
    name: str | None = None
    phone: str | None = None
    address: str | None = None


class Contents(_Open):
    description: str | None = None
    category: str | None = None
    hs_code: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    declared_value: float | None = Field(default=None, ge=0)
    currency: str | None = None


class Manifest(_Open):
    """One parcel as a hub announces it (schema version 1)."""

    schema_version: Literal[1]
    parcel_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    carrier: str | None = None
    hub_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    accepted_at: datetime
    origin: Origin
    destination: Destination
    sender: Sender = Field(default_factory=Sender)
    recipient: Recipient = Field(default_factory=Recipient)
    contents: Contents = Field(default_factory=Contents)
    weight_g: float | None = Field(default=None, ge=0)
    length_cm: float | None = Field(default=None, ge=0)
    width_cm: float | None = Field(default=None, ge=0)
    height_cm: float | None = Field(default=None, ge=0)
    pieces: int | None = Field(default=None, ge=0)
    service: str | None = None
    payment: str | None = None

    @field_validator("accepted_at")
    @classmethod
    def _sane_time(cls, value: datetime) -> datetime:
        return check_event_time("accepted_at", value)


class Outcome(BaseModel):
    """What a screener found (or what surfaced later, for a released parcel)."""

    model_config = ConfigDict(extra="forbid")

    parcel_id: str = Field(min_length=1, max_length=64)
    screened_at: datetime
    result: Literal["clear", "contraband"]
    contraband_type: str | None = Field(default=None, max_length=64)
    quantity_g: float | None = Field(default=None, ge=0)
    source: Literal["xray", "late"] = "xray"
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("screened_at")
    @classmethod
    def _sane_time(cls, value: datetime) -> datetime:
        # A naive time is kept as it came (the store reads it as before); the window is checked as if UTC.
        check_event_time("screened_at", value if value.tzinfo else value.replace(tzinfo=UTC))
        return value


class Reason(BaseModel):
    """One feature's push on the score, in words a screener understands."""

    feature: str
    contribution: float
    text: str


class Decision(BaseModel):
    """What ParcelGuard tells the hub's sorter (published keyed by parcel id)."""

    parcel_id: str
    hub_id: str
    action: Action
    why: Why
    score: float | None
    propensity: float
    model_name: str | None
    model_version: str | None
    reasons: list[Reason]
    decided_at: datetime
