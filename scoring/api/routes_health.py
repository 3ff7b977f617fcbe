"""Liveness and readiness: the database answers, scorers report in, and none is in fail-safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from scoring.api.deps import StoreDep
from scoring.api.schemas import Health

router = APIRouter(tags=["health"])
STALE = timedelta(seconds=30)


@router.get("/health", response_model=Health, summary="Service health; 503 while any live scorer is in fail-safe")
def health(store: StoreDep, response: Response) -> Health:
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="degraded", database=False, scorers=[], message=f"database unavailable: {exc}")
    now = datetime.now(UTC)
    live = [w for w in store.workers() if w["heartbeat_at"] and now - w["heartbeat_at"] < STALE]
    scorers = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in w.items()} for w in live]
    if any(w["fail_safe"] for w in live):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="fail_safe", database=True, scorers=scorers,
                      message="FAIL-SAFE: no risk model loaded; every priority-origin parcel is being screened")
    if not live:
        return Health(status="degraded", database=True, scorers=[], message="no scorer has reported in the last 30 s")
    return Health(status="ok", database=True, scorers=scorers, message="scoring with a model in service")


@router.get("/livez", summary="The process is up")
def livez() -> dict[str, str]:
    return {"status": "alive"}
