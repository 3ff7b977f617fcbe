"""Dependencies routes take as parameters (``StoreDep``, ``CurrentUser``, ``Screener``…), resolved from app state.

A caller proves who they are with an API key or a bearer token exchanged for one (``Authorization:
Bearer …``), or the sign-in cookie the pages set. Keys and tokens are stored as hashes only. Roles:
hub (reads its decisions), screener (its hub's queue: claim, outcome), analyst (every hub, read-only,
late labels), admin (everything, plus keys, watch-list and capacity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from models.manifest import ID_PATTERN
from parcelguard.config import Settings
from scoring.api.throttle import SignInThrottle
from scoring.store import Store

ROLES = ("hub", "screener", "analyst", "admin")
ALL_HUBS = ("analyst", "admin")  # roles that work across hubs
SEES_PARTY_HASHES = ("analyst", "admin")  # who needs the parties' keyed hashes (to match a watch-list)
SESSION_COOKIE = "pg_session"

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An API key issued by an admin, or a bearer token from `POST /api/auth/token`")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                      description="The sign-in cookie the screening pages set")

HubPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="hub id",
                              examples=["HAK-MEILAN"])]
ParcelPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="parcel (waybill) id",
                                 examples=["JT0000000001"])]


def addressable(identifier: str) -> bool:
    """Whether an id fits the API's path rule (``HubPath``, ``ParcelPath``), so a URL can name it."""
    return 0 < len(identifier) <= 64 and re.fullmatch(ID_PATTERN, identifier) is not None


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    hub_id: str | None
    via: str = "key"
    token: str | None = None  # what the caller presented, so signing out can revoke exactly it

    def may_see_hub(self, hub_id: str) -> bool:
        return self.role in ALL_HUBS or (self.hub_id is not None and self.hub_id == hub_id)

    @property
    def sees_party_hashes(self) -> bool:
        return self.role in SEES_PARTY_HASHES

    @property
    def sees_raw_risk(self) -> bool:
        """The model's score and the selection probability: figures for analysts; screeners get the rank."""
        return self.role in ALL_HUBS


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def identify(request: Request, store: Store, token: str) -> Principal:
    """Whom a presented key or token belongs to; 401 when nobody, 429 while this client is throttled."""
    throttle: SignInThrottle = request.app.state.sign_ins
    client = client_of(request)
    wait = throttle.wait_s(client)
    if wait:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed sign-ins from this client: try again in {wait} s",
                            headers={"Retry-After": str(wait)})
    found = store.access.principal(token)
    if found is None:
        throttle.failed(client, request.url.path)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "unknown, expired or revoked key or token: ask an admin for a new key",
                            headers={"WWW-Authenticate": "Bearer"})
    return Principal(found.name, found.role, found.hub_id, found.via, token)


def _presented(credentials: HTTPAuthorizationCredentials | None, session: str | None) -> str:
    return credentials.credentials.strip() if credentials else (session or "").strip()


def current_user(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(cookie)],
) -> Principal:
    token = _presented(credentials, session)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "not signed in: send `Authorization: Bearer <API key or token>`",
                            headers={"WWW-Authenticate": "Bearer"})
    return identify(request, store, token)


def maybe_user(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(cookie)],
) -> Principal | None:
    """The caller when they present a key or token (which must be valid), else None."""
    token = _presented(credentials, session)
    return identify(request, store, token) if token else None


CurrentUser = Annotated[Principal, Depends(current_user)]
MaybeUser = Annotated[Principal | None, Depends(maybe_user)]


def require(*roles: str) -> Any:
    """A dependency that lets only ``roles`` through, with a 403 that names the roles needed."""

    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            needs = " or ".join(roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role} key may not do this; it needs {needs}")
        return user

    return Depends(check)


Screener = Annotated[Principal, require("screener", "admin")]
QueueReader = Annotated[Principal, require("screener", "analyst", "admin")]
Labeller = Annotated[Principal, require("screener", "analyst", "admin")]
AllHubs = Annotated[Principal, require(*ALL_HUBS)]
Admin = Annotated[Principal, require("admin")]


def check_hub(user: Principal, hub_id: str) -> None:
    if not user.may_see_hub(hub_id):
        where = f"hub {user.hub_id}" if user.hub_id else "no hub"
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"{user.name} works for {where}, not {hub_id}: use a key issued for {hub_id}")
