"""Response and request bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from models.manifest import Reason


class QueueItem(BaseModel):
    parcel_id: str
    hub_id: str
    why: str
    score: float | None
    propensity: float
    reasons: list[Reason]
    accepted_at: datetime | None
    decided_at: datetime | None
    age_s: float
    claimed_by: str | None
    description: str | None
    origin: str | None


class Queue(BaseModel):
    hub_id: str
    items: list[QueueItem]
    flagged_this_hour: int
    capacity_per_hour: int | None


class ClaimResult(BaseModel):
    parcel_id: str
    claimed_by: str
    expires_at: datetime


class OutcomeIn(BaseModel):
    result: Literal["clear", "contraband"]
    contraband_type: str | None = Field(default=None, max_length=64)
    quantity_g: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=2000)
    source: Literal["xray", "late"] = "xray"
    screened_at: datetime | None = None


class ParcelView(BaseModel):
    parcel_id: str
    hub_id: str
    action: str
    why: str
    score: float | None
    propensity: float
    model_name: str | None
    model_version: str | None
    reasons: list[Reason]
    status: str
    claimed_by: str | None
    accepted_at: datetime | None
    decided_at: datetime | None
    manifest: dict[str, object]
    outcomes: list[dict[str, object]]
    history: list[dict[str, object]]


class Health(BaseModel):
    status: Literal["ok", "degraded", "fail_safe"]
    database: bool
    scorers: list[dict[str, object]]
    message: str
