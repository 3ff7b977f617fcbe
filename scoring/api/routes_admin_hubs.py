"""Admin: the hub registry (reference data keys, capacities and manifests are checked against)."""

from __future__ import annotations

from fastapi import APIRouter

from scoring import hubs
from scoring.api.deps import Admin, AllHubs, HubPath, StoreDep
from scoring.api.schemas import HubView, problems
from scoring.localtime import zone_label
from scoring.store.rows import Hub

router = APIRouter(tags=["admin"], responses=problems(400, 401, 403, 422))


def hub_view(hub: Hub) -> HubView:
    return HubView(hub_id=hub.hub_id, name=hub.name, time_zone=hub.time_zone, zone_label=zone_label(hubs.zone(hub)),
                   default_capacity=hub.default_capacity, updated_by=hub.updated_by, updated_at=hub.updated_at)


@router.get("/api/hubs/registry", response_model=list[HubView], summary="Every registered hub")
def read_registry(store: StoreDep, user: AllHubs) -> list[HubView]:
    return [hub_view(hub) for hub in store.hubs.all()]


@router.put("/api/admin/hubs/{hub_id}", response_model=HubView,
            summary="Register a hub, or change its name, time zone or default capacity")
def save_hub(hub_id: HubPath, body: hubs.HubFields, store: StoreDep, user: Admin) -> HubView:
    """Keys, capacities and manifests for a hub are refused while the registry lists hubs and this one is not
    among them."""
    store.hubs.save(hubs.HubSpec(hub_id=hub_id, **body.model_dump()).row(), actor=user.name)
    saved = store.hubs.get(hub_id)
    assert saved is not None  # just written
    return hub_view(saved)
