"""Dependencies routes take as parameters (``StoreDep``, ``CurrentUser``…), resolved from app state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parcelguard.config import Settings
from scoring.store import Store

ROLES = ("hub", "screener", "analyst", "admin")
bearer = HTTPBearer(auto_error=False, description="API key issued by an admin (`parcelguard add-key`)")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    hub_id: str | None

    def may_see_hub(self, hub_id: str) -> bool:
        return self.role in ("admin", "analyst") or self.hub_id in (None, hub_id)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_user(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    request: Request,
) -> Principal:
    token = credentials.credentials if credentials else request.cookies.get("pg_token")
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key: send `Authorization: Bearer <key>`",
                            headers={"WWW-Authenticate": "Bearer"})
    found = store.principal(token)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return Principal(found["name"], found["role"], found["hub_id"])


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: str) -> Any:
    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            needs = " or ".join(roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} may not do this; needs {needs}")
        return user

    return Depends(check)


def check_hub(user: Principal, hub_id: str) -> None:
    if not user.may_see_hub(hub_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.name} works at hub {user.hub_id}, not {hub_id}")
