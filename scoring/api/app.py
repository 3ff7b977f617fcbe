"""Builds the FastAPI app around one store and one settings object (no work at import time)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from parcelguard import __version__
from parcelguard.config import Settings
from scoring.api import routes_health, routes_pages, routes_parcels
from scoring.store import Store


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(
        title="ParcelGuard",
        version=__version__,
        description="Flagged-parcel queues for screeners, outcomes for learning, health for operators.",
    )
    app.state.settings = settings
    app.state.store = store

    @app.exception_handler(RequestValidationError)
    async def _explain_422(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})

    app.include_router(routes_health.router)
    app.include_router(routes_parcels.router)
    app.include_router(routes_pages.router)
    return app
