"""Health for operators: ``/livez`` (the process is up), ``/readyz`` (database, broker and a model in
service), ``/health`` (the scorers' state for people) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, status
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel

from scoring import readiness
from scoring.api.deps import ALL_HUBS, MaybeUser, SettingsDep, StoreDep
from scoring.api.schemas import Health

router = APIRouter(tags=["health"])
STALE = timedelta(seconds=30)


class CheckResult(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, CheckResult]


@router.get("/health", response_model=Health, summary="Service health for people: 503 whenever /readyz is not "
            "ready (database, broker, a model in service) or a live scorer is in fail-safe")
def health(request: Request, store: StoreDep, settings: SettingsDep, response: Response) -> Health:
    ready, report = _checks(request, store, settings).report()
    database_ok = bool(report["checks"].get("database", {}).get("ok", False))
    if not database_ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="degraded", database=False, scorers=[], message=report["checks"]["database"]["detail"])
    now = datetime.now(UTC)
    live = [w for w in store.workers.statuses() if w.heartbeat_at and now - w.heartbeat_at < STALE]
    scorers = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(w).items()} for w in live]
    if any(w.fail_safe for w in live):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="fail_safe", database=True, scorers=scorers,
                      message="FAIL-SAFE: no risk model loaded; every priority-origin parcel is being screened")
    if not ready:  # the same truth as /readyz: e.g. a dead broker means nothing is being scored
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        failing = "; ".join(c["detail"] for c in report["checks"].values() if not c["ok"])
        return Health(status="degraded", database=True, scorers=scorers, message=f"not ready: {failing}")
    return Health(status="ok", database=True, scorers=scorers, message="scoring with a model in service")


def _checks(request: Request, store: StoreDep, settings: SettingsDep) -> readiness.Readiness:
    """The process's readiness checks, built once and shared by /readyz and /health."""
    checks: readiness.Readiness | None = getattr(request.app.state, "readiness", None)
    if checks is None:
        checks = readiness.Readiness({
            "database": lambda: readiness.database(store.engine),
            "broker": lambda: readiness.broker(settings.kafka_bootstrap),
            "model": lambda: readiness.model_in_service(store),
        })
        request.app.state.readiness = checks
    return checks


@router.get("/livez", summary="The process is up")
def livez() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", response_model=Readiness, summary="Ready to serve: 503 with the failing checks when the "
            "database, the broker or a model in service is unavailable",
            responses={503: {"model": Readiness, "description": "not ready; each check says why"}})
def readyz(request: Request, response: Response, store: StoreDep, settings: SettingsDep) -> Readiness:
    ready, report = _checks(request, store, settings).report()
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness.model_validate(report)


def metrics_registry(app: FastAPI) -> CollectorRegistry:
    """The registry ``/metrics`` serves; a process running a scorer beside the API may add its metrics to it."""
    registry: CollectorRegistry | None = getattr(app.state, "metrics_registry", None)
    if registry is None:
        from scoring.api.metrics import api_registry

        registry = app.state.metrics_registry = api_registry(app.state.store)
    return registry


@router.get("/metrics", summary="Prometheus metrics: the scorer fleet's heartbeats and the screening queues",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request, settings: SettingsDep, caller: MaybeUser) -> Response:
    """Open in development; otherwise (hub names and queue sizes) for analyst or admin keys and tokens only,
    unless PARCELGUARD_METRICS_PUBLIC is set."""
    if not settings.metrics_public:
        if caller is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "metrics need an analyst or admin key: send "
                                "`Authorization: Bearer <key>`, or set PARCELGUARD_METRICS_PUBLIC=true",
                                headers={"WWW-Authenticate": "Bearer"})
        if caller.role not in ALL_HUBS:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"metrics need an analyst or admin key, not {caller.role}")
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))  # text format, or OpenMetrics if asked
    return Response(encoder(metrics_registry(request.app)), media_type=content_type)
