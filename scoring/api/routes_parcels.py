"""JSON API for screeners and hubs: the flagged queue, claims, outcomes, one parcel's record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status

from models.manifest import Outcome, Reason
from scoring.api.deps import CurrentUser, SettingsDep, StoreDep, check_hub, require
from scoring.api.schemas import ClaimResult, OutcomeIn, ParcelView, Queue, QueueItem

router = APIRouter(prefix="/api", tags=["parcels"])
SCREENING = require("screener", "admin")


def _queue_item(row: dict[str, Any], now: datetime) -> QueueItem:
    manifest = row["manifest"] or {}
    origin = manifest.get("origin") or {}
    accepted = row["accepted_at"]
    return QueueItem(
        parcel_id=row["parcel_id"], hub_id=row["hub_id"], why=row["why"], score=row["score"],
        propensity=row["propensity"], reasons=[Reason.model_validate(r) for r in row["reasons"]],
        accepted_at=accepted, decided_at=row["decided_at"],
        age_s=(now - row["decided_at"]).total_seconds() if row["decided_at"] else 0.0,
        claimed_by=row["claimed_by"], description=(manifest.get("contents") or {}).get("description"),
        origin=", ".join(filter(None, [origin.get("city"), origin.get("province")])) or None,
    )


@router.get("/hubs/{hub_id}/queue", response_model=Queue, summary="Flagged parcels not yet screened")
def read_queue(
    hub_id: str, store: StoreDep, settings: SettingsDep, user: CurrentUser,
    limit: int = Query(50, ge=1, le=500, description="how many parcels, highest risk first"),
) -> Queue:
    check_hub(user, hub_id)
    now = datetime.now(UTC)
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    return Queue(
        hub_id=hub_id,
        items=[_queue_item(row, now) for row in store.queue(hub_id, limit, now)],
        flagged_this_hour=store.flagged_since(hub_id, hour_start),
        capacity_per_hour=settings.hub_capacity_per_hour.get(hub_id),
    )


def _parcel_or_404(store: StoreDep, parcel_id: str) -> dict[str, Any]:
    row = store.decision(parcel_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision for parcel {parcel_id!r}")
    return row


@router.get("/parcels/{parcel_id}", response_model=ParcelView, summary="A parcel's decision, reasons and history")
def read_parcel(parcel_id: str, store: StoreDep, user: CurrentUser) -> ParcelView:
    row = _parcel_or_404(store, parcel_id)
    check_hub(user, row["hub_id"])
    return ParcelView(
        **{k: row[k] for k in ("parcel_id", "hub_id", "action", "why", "score", "propensity", "model_name",
                               "model_version", "status", "claimed_by", "accepted_at", "decided_at", "manifest")},
        reasons=[Reason.model_validate(r) for r in row["reasons"]],
        outcomes=store.outcomes_for(parcel_id),
        history=store.audit_for(parcel_id),
    )


@router.post("/parcels/{parcel_id}/claim", response_model=ClaimResult, dependencies=[SCREENING],
             summary="Take a flagged parcel for screening", responses={409: {"description": "already claimed"}})
def claim_parcel(parcel_id: str, store: StoreDep, settings: SettingsDep, user: CurrentUser) -> ClaimResult:
    row = _parcel_or_404(store, parcel_id)
    check_hub(user, row["hub_id"])
    if row["action"] != "SCREEN" or row["status"] != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"parcel {parcel_id} is {row['status']}, not waiting for screening")
    ttl = timedelta(seconds=settings.claim_ttl_seconds)
    now = datetime.now(UTC)
    if not store.claim(parcel_id, user.name, ttl, now):
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} is claimed by someone else")
    return ClaimResult(parcel_id=parcel_id, claimed_by=user.name, expires_at=now + ttl)


@router.post("/parcels/{parcel_id}/outcome", status_code=201, dependencies=[SCREENING],
             summary="Record what screening found (or a late label)")
def record_outcome(parcel_id: str, body: OutcomeIn, store: StoreDep, user: CurrentUser) -> dict[str, str]:
    row = _parcel_or_404(store, parcel_id)
    check_hub(user, row["hub_id"])
    if body.result == "contraband" and not body.contraband_type:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "contraband needs a contraband_type")
    if body.source == "xray" and row["claimed_by"] not in (None, user.name):
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} is claimed by {row['claimed_by']}")
    outcome = Outcome(parcel_id=parcel_id, screened_at=body.screened_at or datetime.now(UTC), result=body.result,
                      contraband_type=body.contraband_type, quantity_g=body.quantity_g, source=body.source,
                      note=body.note)
    store.record_outcome(outcome, actor=user.name)
    return {"parcel_id": parcel_id, "recorded": body.result}
