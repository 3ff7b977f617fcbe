"""Who am I, and bearer tokens: exchange an API key for a short-lived token (stored hashed), or revoke one."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response, status

from scoring.api.deps import CurrentUser, StoreDep
from scoring.api.schemas import Me, TokenOut, problems

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=problems(401))
TOKEN_TTL = timedelta(hours=12)  # one shift


@router.get("/me", response_model=Me, summary="The caller's name, role and hub")
def read_me(user: CurrentUser) -> Me:
    return Me(name=user.name, role=user.role, hub_id=user.hub_id)  # type: ignore[arg-type]


@router.post("/token", response_model=TokenOut, responses=problems(403),
             summary="Exchange an API key for a bearer token valid for 12 hours")
def issue_token(store: StoreDep, user: CurrentUser) -> TokenOut:
    """Send the API key as `Authorization: Bearer <key>`. The token is shown once; only its hash is stored.
    Revoking the key revokes every token issued for it."""
    if user.via != "key":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a token cannot issue tokens: present the API key itself")
    token, expires = store.access.open_session(user.name, TOKEN_TTL, purpose="token")
    return TokenOut(name=user.name, role=user.role, hub_id=user.hub_id, access_token=token,  # type: ignore[arg-type]
                    expires_at=expires)


@router.post("/logout", status_code=204, response_class=Response, responses=problems(409),
             summary="Revoke the bearer token (or sign-in) presented")
def logout(store: StoreDep, user: CurrentUser) -> Response:
    if user.via != "token" or user.token is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "an API key cannot be signed out: ask an admin to revoke it")
    store.access.close_session(user.token)
    return Response(status_code=204)
