"""Builds the FastAPI app around one store and one settings object (no work at import time).

Errors are one shape everywhere, ``{"detail": "what went wrong and what to do"}``; on the pages a
missing sign-in sends the browser to the sign-in form and other errors render as a page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from parcelguard import __version__
from parcelguard.config import Settings
from scoring.api import (
    messages,
    routes_admin_capacity,
    routes_admin_hubs,
    routes_admin_keys,
    routes_admin_watchlist,
    routes_auth,
    routes_health,
    routes_pages,
    routes_parcels,
    routes_search,
)
from scoring.api.guards import BodyLimit, SameSiteCookiePosts, SecurityHeaders
from scoring.api.schemas import Problem
from scoring.api.throttle import SignInThrottle
from scoring.localtime import at_hub
from scoring.store import Store

log = logging.getLogger(__name__)

DESCRIPTION = """
Flagged-parcel queues for X-ray screeners, outcomes and late labels that feed training, parcel search,
administration of keys, the watch-list and hub capacity, and health for operators.

**Authentication**: `Authorization: Bearer <key or token>`. Keys are issued by an admin
(`POST /api/admin/keys` or `parcelguard add-key`); `POST /api/auth/token` exchanges a key for a 12-hour
token. Keys and tokens are stored hashed. **Roles**: `hub` reads its hub's decisions; `screener` works its
hub's queue; `analyst` reads every hub and records late labels; `admin` does everything.

**Personal data**: decision records hold keyed hashes of names, phones, ID numbers and addresses, never
clear values; only analysts and admins see the hashes.

**Errors**: every 4xx/5xx body is `{"detail": "..."}`, saying what to fix.
"""


def _wants_page(request: Request) -> bool:
    """A person's browser navigating (it asks for HTML), not a program calling the API or a probe."""
    path = request.url.path
    machine = ("/health", "/livez", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
    return not (path.startswith("/api/") or path in machine) and "text/html" in request.headers.get("accept", "")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette names only the first route's (GET and POST on one
    path are two routes here), which tells a client that the other does not exist."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, served = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and served and regex.match(request.url.path):
            methods |= set(served)
    return ", ".join(sorted(methods))


def _problem_422(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 422 answers ``{"detail": "..."}`` (the handler below), so the document must say so for every route,
    including routes that do not declare it themselves; FastAPI would describe its own list-of-errors shape."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            response = operation.get("responses", {}).get("422")
            if response is not None and "HTTPValidationError" in str(response):
                response["content"] = {"application/json": {"schema": problem}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _declare_guards(schema: dict[str, Any]) -> None:
    """The guards answer 413 (a body too large) and 429 (a throttled client) before any route: say so."""
    problem = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "the body is over PARCELGUARD_MAX_BODY_BYTES", **problem})
            if operation.get("security"):
                responses.setdefault("429", {"description": "too many failed sign-ins from this client", **problem})


def _warm_up(settings: Settings, done: threading.Event) -> None:
    """The analyst pages' once-per-process work (registry, bins), so no analyst's first view pays it."""
    from scoring.monitoring import report  # imported here: MLflow loads in this thread, not at start

    try:
        report.warm(settings)
    except Exception:  # a page does the same work again on its first view; the error is logged, not hidden
        log.exception("analyst pages' warm-up failed; their first view does the work instead")
    finally:
        done.set()


def create_app(settings: Settings, store: Store, warm_analyst: bool = False) -> FastAPI:
    """The app; ``warm_analyst``: when it starts, do the analyst pages' once-per-process work in a thread
    (``app.state.warmed`` is set when done). Services ask for it; tests, which start many apps, do not."""
    docs = bool(settings.api_docs_public)  # closed by default outside development
    warmed = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A thread, not awaited: a slow or unreachable registry must not hold the API's start.
        threading.Thread(target=_warm_up, args=(settings, warmed), name="analyst-warm-up", daemon=True).start()
        yield

    app = FastAPI(
        lifespan=lifespan if warm_analyst else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="ParcelGuard",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "screening", "description": "hub queues, claims, outcomes, late labels, one parcel"},
            {"name": "search", "description": "find parcels by waybill number"},
            {"name": "auth", "description": "who am I; bearer tokens"},
            {"name": "admin", "description": "keys, watch-list, the hub registry, hub capacity, audit log"},
            {"name": "health", "description": "liveness and readiness"},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.warmed = warmed
    app.state.sign_ins = SignInThrottle(settings.sign_in_failures_per_minute)
    # The last added runs first: headers go on every answer, including the guards' own refusals.
    app.add_middleware(SameSiteCookiePosts)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       authenticated=lambda token: store.access.principal(token) is not None)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def _explain_422(request: Request, exc: RequestValidationError) -> Response:
        message = messages.explain(exc.errors())
        if _wants_page(request):
            return routes_pages.error_page(request, 422, message)
        return JSONResponse(status_code=422, content={"detail": message})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_page(request):
            if exc.status_code == 401:
                return RedirectResponse(routes_pages.login_url(request), status_code=303)
            return routes_pages.error_page(request, exc.status_code, str(exc.detail))
        detail = exc.detail
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body could not be read: send a JSON object in UTF-8"
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=headers)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # The database refused a value that came in with the request (PostgreSQL: a NUL character in
        # text, a number out of range): the request is at fault, not the service.
        log.warning("request data the database cannot store", extra={"path": request.url.path})
        message = ("a value in the request cannot be stored (text must not contain NUL characters; "
                   "numbers must be in range)")
        if _wants_page(request):
            return routes_pages.error_page(request, 422, message)
        return JSONResponse(status_code=422, content={"detail": message})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The type only: a message could quote request data, and request data may be personal.
        log.error("unhandled error", extra={"path": request.url.path, "error": type(exc).__name__})
        return JSONResponse(status_code=500, content={"detail": f"internal error ({type(exc).__name__}); "
                                                                "it has been logged, try again or tell an operator"})

    for router in (routes_health.router, routes_auth.router, routes_parcels.router, routes_search.router,
                   routes_admin_keys.router, routes_admin_watchlist.router, routes_admin_capacity.router,
                   routes_admin_hubs.router,
                   routes_pages.router):
        app.include_router(router)
    from scoring.api import routes_analyst  # imported here: it pulls in MLflow and the monitoring code

    app.include_router(routes_analyst.router)
    # The layout's time filter on the analyst pages too: the models page labels its times UTC.
    routes_analyst.templates.env.filters.setdefault("at_hub", at_hub)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_422(FastAPI.openapi(app))
            _declare_guards(app.openapi_schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
