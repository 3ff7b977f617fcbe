"""JSON API for screeners: a hub's flagged queue, claims (one holder at a time, expiring), outcomes and late labels,
one parcel's decision with its explanation and history, and the bare decision for hub systems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query, Response, status

from models.manifest import Decision, Outcome
from scoring import capacity, hubs
from scoring.api import views
from scoring.api.deps import (
    AllHubs,
    CurrentUser,
    HubPath,
    Labeller,
    ParcelPath,
    Principal,
    QueueReader,
    Screener,
    SettingsDep,
    StoreDep,
    addressable,
    check_hub,
)
from scoring.api.risk import HubDays
from scoring.api.schemas import (
    ClaimResult,
    HubSummary,
    LateLabelIn,
    OutcomeIn,
    OutcomeView,
    ParcelView,
    QueueItem,
    QueueView,
    problems,
)
from scoring.localtime import zone_label
from scoring.store import Store
from scoring.store.rows import HubLoad, HubPace, StoredDecision

router = APIRouter(prefix="/api", tags=["screening"], responses=problems(400, 401, 403, 422))
CLOCK_SKEW = timedelta(minutes=5)


def _hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _parcel(store: Store, parcel_id: str, user: Principal) -> StoredDecision:
    row = store.decisions.get(parcel_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no decision for parcel {parcel_id!r}: check the waybill number, or search by its start")
    check_hub(user, row.hub_id)
    return row


def _days(store: Store, hub_id: str, now: datetime, rows: list[StoredDecision]) -> HubDays:
    """The hub's days (in its own time zone) these parcels were accepted on, to rank each within its day."""
    return HubDays(store, hub_id, hubs.zone(store.hubs.get(hub_id)), rows, now)


def _claimed(store: Store, row: StoredDecision, user: Principal, now: datetime) -> QueueItem:
    return views.queue_item(row, now, _days(store, row.hub_id, now, [row]), user.sees_raw_risk)


def _late(parcel_id: str) -> str:
    return f"/api/parcels/{parcel_id}/late-label"


def _not_in_future(at: datetime | None, now: datetime, field: str) -> datetime:
    if at is None:
        return now
    if at > now + CLOCK_SKEW:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{field} {at.isoformat()} is in the future: send when it happened, or leave it out")
    return at


@router.get("/hubs/{hub_id}/queue", response_model=QueueView, summary="A hub's flagged parcels, highest risk first")
def read_queue(
    hub_id: HubPath, store: StoreDep, settings: SettingsDep, user: QueueReader,
    limit: int = Query(50, ge=1, le=500, description="how many waiting parcels to list"),
) -> QueueView:
    """Parcels flagged for X-ray and not yet screened, held by nobody (``items``) or by the caller (``mine``),
    with the hub's capacity use in the current hour. Screeners see only their own hub."""
    check_hub(user, hub_id)
    now = datetime.now(UTC)
    hour = _hour_start(now)
    counts = store.queue.hub_hour(hub_id, hour, now)
    per_hour = views.capacity_for(store, settings, hub_id)
    waiting, mine = store.queue.waiting(hub_id, limit, now), store.queue.held_by(user.name, hub_id, now)
    days = _days(store, hub_id, now, [*waiting, *mine])
    raw = user.sees_raw_risk
    return QueueView(
        hub_id=hub_id, generated_at=now,
        items=[views.queue_item(row, now, days, raw) for row in waiting],
        mine=[views.queue_item(row, now, days, raw) for row in mine],
        waiting=counts.waiting, held=counts.held, hour_started_at=hour,
        flagged_this_hour=counts.flagged, screened_this_hour=counts.screened,
        capacity_per_hour=per_hour, capacity_used=counts.flagged / per_hour if per_hour else None,
        claim_ttl_s=settings.claim_ttl_seconds,
    )


@router.get("/hubs", response_model=list[HubSummary], summary="Every hub with parcels waiting or flagged this hour")
def read_hubs(store: StoreDep, settings: SettingsDep, user: AllHubs) -> list[HubSummary]:
    now = datetime.now(UTC)
    known = {h.hub_id: h for h in store.queue.hubs_overview(_hour_start(now), now)}
    registry = {hub.hub_id: hub for hub in store.hubs.all()}
    pace = {p.hub_id: p for p in store.queue.pace(now)}
    for hub_id in [*capacity.in_force(store, settings), *registry, *pace]:
        known.setdefault(hub_id, HubLoad(hub_id))
    per_hour = capacity.in_force(store, settings)
    # Only hubs the API can address: a hub id its own path rule refuses (stored before intake checked the
    # pattern) would be listed with a queue nobody can open.
    summaries = []
    for h in sorted(known.values(), key=lambda h: h.hub_id):
        if not addressable(h.hub_id):
            continue
        hub, line = registry.get(h.hub_id), pace.get(h.hub_id, HubPace(h.hub_id))
        zone = hubs.zone(hub)
        oldest = line.oldest_waiting_since
        summaries.append(HubSummary(
            hub_id=h.hub_id, name=hub.name if hub else None, time_zone=str(zone), zone_label=zone_label(zone, now),
            waiting=h.waiting, held=h.held, flagged_this_hour=h.flagged, capacity_per_hour=per_hour.get(h.hub_id),
            oldest_waiting_s=max(0.0, (now - oldest).total_seconds()) if oldest else None,
            screened_last_hour=line.screened_last_hour))
    return summaries


@router.post("/parcels/{parcel_id}/claim", response_model=ClaimResult, responses=problems(404, 409),
             summary="Take one flagged parcel for screening")
def claim_parcel(parcel_id: ParcelPath, store: StoreDep, settings: SettingsDep, user: Screener) -> ClaimResult:
    """Two screeners can never hold the same parcel. The claim lasts ``claim_ttl_s``; claiming again renews it.
    An abandoned claim expires and the parcel returns to the queue."""
    row = _parcel(store, parcel_id, user)
    if row.action != "SCREEN" or row.status != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"parcel {parcel_id} is {views.STATUS_TEXT[row.status]}: nothing to claim")
    now = datetime.now(UTC)
    ttl = timedelta(seconds=settings.claim_ttl_seconds)
    if not store.claims.claim(parcel_id, user.name, ttl, now):
        holder = (store.decisions.get(parcel_id) or row).holder(now) or "someone else"
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} is held by {holder}: take another one")
    return ClaimResult(parcel=_claimed(store, store.decisions.get(parcel_id) or row, user, now),
                       claimed_by=user.name, expires_at=now + ttl)


@router.post("/hubs/{hub_id}/claim-next", response_model=ClaimResult, responses=problems(404),
             summary="Take the highest-risk parcel nobody holds")
def claim_next(hub_id: HubPath, store: StoreDep, settings: SettingsDep, user: Screener) -> ClaimResult:
    check_hub(user, hub_id)
    now = datetime.now(UTC)
    ttl = timedelta(seconds=settings.claim_ttl_seconds)
    parcel_id = store.claims.claim_next(hub_id, user.name, ttl, now)
    row = store.decisions.get(parcel_id) if parcel_id else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flagged parcel is waiting at {hub_id}: the queue is empty")
    return ClaimResult(parcel=_claimed(store, row, user, now), claimed_by=user.name, expires_at=now + ttl)


@router.delete("/parcels/{parcel_id}/claim", status_code=204, response_class=Response, responses=problems(404, 409),
               summary="Hand a claimed parcel back to the queue")
def release_claim(parcel_id: ParcelPath, store: StoreDep, user: Screener) -> Response:
    _parcel(store, parcel_id, user)
    if not store.claims.release(parcel_id, user.name):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{user.name} does not hold parcel {parcel_id}")
    return Response(status_code=204)


@router.post("/parcels/{parcel_id}/outcome", status_code=201, response_model=OutcomeView,
             responses=problems(404, 409), summary="Record what X-ray screening found")
def record_outcome(parcel_id: ParcelPath, body: OutcomeIn, store: StoreDep, user: Screener) -> OutcomeView:
    """Clear, or contraband with its type (and quantity, a note). The parcel leaves the queue and the outcome
    becomes a training label. A parcel held by another screener can only be recorded by them."""
    row = _parcel(store, parcel_id, user)
    if row.action != "SCREEN":
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} was released, not flagged: "
                                                      f"report contraband found later with POST {_late(parcel_id)}")
    if row.status != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} already has an X-ray outcome: "
                                                      f"add contraband found later with POST {_late(parcel_id)}")
    now = datetime.now(UTC)
    holder = row.holder(now)
    if holder not in (None, user.name):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"parcel {parcel_id} is held by {holder}: only they can record it")
    outcome = Outcome(parcel_id=parcel_id, screened_at=_not_in_future(body.screened_at, now, "screened_at"),
                      result=body.result, contraband_type=body.contraband_type, quantity_g=body.quantity_g,
                      source="xray", note=body.note)
    store.outcomes.record(outcome, actor=user.name)
    return _stored_outcome(store, parcel_id, "xray")


@router.post("/parcels/{parcel_id}/late-label", status_code=201, response_model=OutcomeView,
             responses=problems(404, 409), summary="Report contraband found after the parcel left screening")
def record_late_label(parcel_id: ParcelPath, body: LateLabelIn, store: StoreDep, user: Labeller) -> OutcomeView:
    """For a released parcel, or one screening cleared, where contraband surfaced later (delivery, police)."""
    row = _parcel(store, parcel_id, user)
    if row.status == "pending":
        raise HTTPException(status.HTTP_409_CONFLICT, f"parcel {parcel_id} is still waiting for screening: "
                                                      "record its X-ray outcome instead")
    now = datetime.now(UTC)
    outcome = Outcome(parcel_id=parcel_id, screened_at=_not_in_future(body.found_at, now, "found_at"),
                      result="contraband", contraband_type=body.contraband_type, quantity_g=body.quantity_g,
                      source="late", note=body.note)
    store.outcomes.record(outcome, actor=user.name)
    return _stored_outcome(store, parcel_id, "late")


def _stored_outcome(store: Store, parcel_id: str, source: str) -> OutcomeView:
    return views.outcome_view(next(o for o in store.outcomes.for_parcel(parcel_id) if o.source == source))


@router.get("/parcels/{parcel_id}", response_model=ParcelView, responses=problems(404),
            summary="A parcel's decision, explanation, outcomes and history")
def read_parcel(parcel_id: ParcelPath, store: StoreDep, user: CurrentUser) -> ParcelView:
    """Every role may read its hub's parcels. The parties' keyed hashes are shown to analysts and admins only;
    clear personal data is never stored, so it is never shown."""
    row = _parcel(store, parcel_id, user)
    view = views.parcel_view(row, store, show_parties=user.sees_party_hashes, raw=user.sees_raw_risk)
    if user.role == "hub":  # a hub system needs the decision, not the staff's notes
        view.outcomes = [o.model_copy(update={"note": None}) for o in view.outcomes]
    return view


@router.get("/decisions/{parcel_id}", response_model=Decision, responses=problems(404),
            summary="The decision as published on parcel.decisions (for hub systems)")
def read_decision(parcel_id: ParcelPath, store: StoreDep, user: CurrentUser) -> Decision:
    return _parcel(store, parcel_id, user).to_decision()
