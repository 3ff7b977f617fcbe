"""Web pages for people: sign in with an API key, a hub's live queue, parcel search and detail, hubs, admin.

Pages are thin: they render a template and the browser calls the JSON API for everything that changes.
Signing in exchanges the key for a session token (stored hashed) in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from scoring import hubs
from scoring.api import routes_search, views
from scoring.api.deps import (
    ID_PATTERN,
    SESSION_COOKIE,
    CurrentUser,
    HubPath,
    ParcelPath,
    Principal,
    StoreDep,
    check_hub,
    client_of,
)
from scoring.api.routes_auth import TOKEN_TTL
from scoring.api.schemas import ContrabandType, SearchHit
from scoring.api.throttle import SignInThrottle
from scoring.localtime import at_hub, zone_label
from scoring.store import Store
from scoring.store.rows import KeyHolder

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
templates.env.filters["at_hub"] = at_hub  # "2026-11-27 14:05 CST (UTC+8)": every time shown names its zone
STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger(__name__)
SEARCH_PAGE = 50
CONTRABAND_TYPES: tuple[str, ...] = ContrabandType.__args__  # type: ignore[attr-defined]


def home_for(user: Principal | KeyHolder) -> str:
    hub, role = user.hub_id, user.role
    if role in ("analyst", "admin"):
        return "/hubs"
    return f"/hubs/{quote(hub)}/queue" if role == "screener" and hub else "/search"


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/" if target == "/" else f"/?next={quote(target)}"


def error_page(request: Request, code: int, message: str, user: Principal | KeyHolder | None = None) -> HTMLResponse:
    """The error inside the layout, with the signed-in person's menu and Sign out (found from the cookie when the
    error came before any route did, e.g. a 404 or a 422 on a page's query)."""
    if user is None:
        try:
            user = _signed_in(request, request.app.state.store)
        except Exception as exc:  # the database being away is no reason to hide the error being shown
            log.warning("could not tell who is signed in for an error page", extra={"error": type(exc).__name__})
    return templates.TemplateResponse(request, "error.html", {"code": code, "message": message, "user": user,
                                                              "home": home_for(user) if user else "/"},
                                      status_code=code)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) is a place to return to after signing in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def _signed_in(request: Request, store: Store) -> KeyHolder | None:
    token = request.cookies.get(SESSION_COOKIE)
    return store.access.principal(token) if token else None


@router.get("/", response_class=HTMLResponse)
def index(request: Request, store: StoreDep, next: str | None = None) -> Response:
    found = _signed_in(request, store)
    if found is not None:
        return RedirectResponse(_safe_next(next) or home_for(found), status_code=status.HTTP_303_SEE_OTHER)
    return templates.TemplateResponse(request, "login.html", {"error": None, "next": _safe_next(next), "user": None})


@router.post("/login")
def login(request: Request, store: StoreDep, token: Annotated[str, Form()] = "",
          next: Annotated[str | None, Form()] = None) -> Response:
    key = token.strip()
    throttle: SignInThrottle = request.app.state.sign_ins
    wait = throttle.wait_s(client_of(request))
    if wait:
        return templates.TemplateResponse(request, "login.html", {
            "error": f"Too many failed sign-ins from here. Try again in {wait} s.", "next": _safe_next(next),
            "user": None}, status_code=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(wait)})
    found = store.access.principal(key) if key else None
    if found is None or found.via != "key":
        if key:
            throttle.failed(client_of(request), "/login")
        error = "Enter your API key." if not key else "That key is unknown or revoked. Check it, or ask an admin."
        return templates.TemplateResponse(request, "login.html", {"error": error, "next": _safe_next(next),
                                                                  "user": None},
                                          status_code=status.HTTP_401_UNAUTHORIZED)
    session, _ = store.access.open_session(found.name, TOKEN_TTL, purpose="page")
    response = RedirectResponse(_safe_next(next) or home_for(found), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(SESSION_COOKIE, session, max_age=int(TOKEN_TTL.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, store: StoreDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store.access.close_session(token)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/hubs/{hub_id}/queue", response_class=HTMLResponse)
def queue_page(hub_id: HubPath, request: Request, store: StoreDep, user: CurrentUser) -> HTMLResponse:
    check_hub(user, hub_id)
    hub = store.hubs.get(hub_id)
    zone = hubs.zone(hub)
    return templates.TemplateResponse(request, "queue.html", {
        "hub_id": hub_id, "hub_name": hub.name if hub else None, "time_zone": str(zone),
        "zone_label": zone_label(zone), "user": user, "nav": "queue", "contraband_types": CONTRABAND_TYPES,
        "can_screen": user.role in ("screener", "admin"), "raw_risk": user.sees_raw_risk,
    })


@router.get("/hubs", response_class=HTMLResponse)
def hubs_page(request: Request, user: CurrentUser) -> Response:
    if user.role not in ("analyst", "admin"):
        return RedirectResponse(home_for(user), status_code=status.HTTP_303_SEE_OTHER)
    return templates.TemplateResponse(request, "hubs.html", {"user": user, "nav": "hubs"})


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, store: StoreDep, user: CurrentUser,
                q: Annotated[str, Query(max_length=64)] = "") -> Response:
    query = q.strip()
    hits: list[SearchHit] = []
    error = None
    if query:
        if not re.fullmatch(ID_PATTERN, query):
            error = "A waybill number has only letters, digits, dots, dashes and underscores."
        else:
            hits = routes_search.search(store, user, query, SEARCH_PAGE)
            exact = next((h for h in hits if h.parcel_id == query), None)
            target = exact or (hits[0] if len(hits) == 1 else None)
            if target is not None:
                return RedirectResponse(f"/parcels/{quote(target.parcel_id)}", status_code=status.HTTP_303_SEE_OTHER)
    return templates.TemplateResponse(request, "search.html", {"user": user, "nav": "search", "q": query,
                                                               "hits": hits, "error": error, "page": SEARCH_PAGE})


@router.get("/parcels/{parcel_id}", response_class=HTMLResponse)
def parcel_page(parcel_id: ParcelPath, request: Request, store: StoreDep, user: CurrentUser) -> HTMLResponse:
    row = store.decisions.get(parcel_id)
    if row is None:
        return error_page(request, 404, f"No decision for parcel {parcel_id}. Check the waybill number or search "
                                        "by its first characters.", user)
    check_hub(user, row.hub_id)
    view = views.parcel_view(row, store, show_parties=user.sees_party_hashes, raw=user.sees_raw_risk)
    return templates.TemplateResponse(request, "parcel.html", {
        "user": user, "nav": "search", "p": view, "zone": ZoneInfo(view.time_zone),
        "contraband_types": CONTRABAND_TYPES,
        "can_label": user.role in ("screener", "analyst", "admin") and view.status != "pending",
    })


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, user: CurrentUser) -> HTMLResponse:
    if user.role != "admin":
        return error_page(request, 403, f"The admin page needs an admin key; {user.name} is a {user.role}.", user)
    return templates.TemplateResponse(request, "admin.html", {"user": user, "nav": "admin"})
