"""Admin: issue and revoke API keys (stored hashed, shown once), and read the audit log."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from scoring import hubs
from scoring.api.deps import Admin, StoreDep
from scoring.api.schemas import AuditEntry, KeyIn, KeyIssued, KeyView, problems

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=problems(400, 401, 403, 422))
KeyName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@\-]+$")]


@router.get("/keys", response_model=list[KeyView], summary="Every API key: name, role, hub, active (never the key)")
def read_keys(store: StoreDep, user: Admin) -> list[KeyView]:
    return [KeyView.model_validate(k, from_attributes=True) for k in store.access.list_keys()]


@router.post("/keys", status_code=201, response_model=KeyIssued, responses=problems(404, 409),
             summary="Issue an API key; the key is in this response only")
def create_key(body: KeyIn, store: StoreDep, user: Admin) -> KeyIssued:
    existing = store.access.key(body.name)
    if existing is not None and existing.active:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"an active key named {body.name!r} exists: revoke it first or choose another name")
    if body.hub_id is not None:
        try:
            hubs.check(store, body.hub_id)
        except hubs.UnknownHub as exc:  # the hub it names does not exist: 404, as for any missing resource
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    token = secrets.token_urlsafe(24)
    store.access.add_key(body.name, body.role, token, body.hub_id, actor=user.name)
    issued = store.access.key(body.name)
    return KeyIssued(**(asdict(issued) if issued else {}), token=token)


@router.delete("/keys/{name}", status_code=204, response_class=Response, responses=problems(404),
               summary="Revoke a key and every token issued for it")
def revoke_key(name: KeyName, store: StoreDep, user: Admin) -> Response:
    if not store.access.revoke_key(name, actor=user.name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active key named {name!r}")
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditEntry], summary="The newest audited actions: who did what, when")
def read_audit(
    store: StoreDep, user: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[AuditEntry]:
    return [AuditEntry.model_validate(e, from_attributes=True) for e in store.audit.recent(limit, actor)]
