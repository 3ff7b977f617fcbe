"""Find parcels by (the start of) their waybill number; screeners and hubs search their own hub only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from scoring.api import views
from scoring.api.deps import ALL_HUBS, ID_PATTERN, CurrentUser, Principal, StoreDep
from scoring.api.schemas import SearchHit, SearchResult, problems
from scoring.store import Store

router = APIRouter(prefix="/api", tags=["search"], responses=problems(401, 422))


@router.get("/search", response_model=SearchResult, summary="Parcels whose id starts with q")
def search_parcels(
    store: StoreDep, user: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=64, pattern=ID_PATTERN,
                            description="a waybill number, or its first characters")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResult:
    return SearchResult(query=q, hits=search(store, user, q, limit))


def search(store: Store, user: Principal, q: str, limit: int) -> list[SearchHit]:
    """Hits among the parcels ``user`` may see (a screener's or hub's own hub only)."""
    hub = None if user.role in ALL_HUBS else (user.hub_id or "")
    return [SearchHit(**asdict(h), why_text=views.why_text(h.action, h.why)) for h in store.queue.search(q, hub, limit)]
