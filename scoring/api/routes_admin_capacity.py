"""Admin: each hub's X-ray capacity per hour (an admin's figure overrides the configured one)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from parcelguard.config import Settings
from scoring import capacity, hubs
from scoring.api.deps import Admin, HubPath, SettingsDep, StoreDep
from scoring.api.schemas import CapacityIn, CapacityView, problems
from scoring.store import Store

router = APIRouter(prefix="/api/admin/capacity", tags=["admin"], responses=problems(400, 401, 403, 422))


def _view(store: Store, settings: Settings, hub_id: str) -> CapacityView:
    configured = capacity.configured(store, settings).get(hub_id)
    override = store.capacity.overrides().get(hub_id)
    if override:
        return CapacityView(hub_id=hub_id, per_hour=override.per_hour, source="admin", configured=configured,
                            updated_by=override.updated_by, updated_at=override.updated_at)
    return CapacityView(hub_id=hub_id, per_hour=configured, source="configured" if configured else "none",
                        configured=configured)


@router.get("", response_model=list[CapacityView], summary="Capacity per hour of every registered or configured hub")
def read_capacities(store: StoreDep, settings: SettingsDep, user: Admin) -> list[CapacityView]:
    known = {hub.hub_id for hub in store.hubs.all()}
    return [_view(store, settings, hub) for hub in sorted({*known, *capacity.in_force(store, settings)})]


@router.put("/{hub_id}", response_model=CapacityView, responses=problems(404),
            summary="Set a hub's X-ray parcels per hour")
def set_capacity(
    hub_id: HubPath, body: CapacityIn, store: StoreDep, settings: SettingsDep, user: Admin
) -> CapacityView:
    """Queue pages use it at once and scorers within seconds. ``per_hour: null`` goes back to the configured figure.
    A hub the registry does not list is refused (while it lists any)."""
    try:
        hubs.check(store, hub_id)
    except hubs.UnknownHub as exc:  # the hub it names does not exist: 404, as for any missing resource
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    store.capacity.set(hub_id, body.per_hour, actor=user.name)
    return _view(store, settings, hub_id)
