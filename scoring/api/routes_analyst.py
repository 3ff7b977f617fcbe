"""Analyst pages: drift and performance per window, hub and model version; alerts; the model registry.

Routes stay thin and only read: ``scoring.monitoring.report`` sums the hourly aggregates the monitoring job
folds (``scoring.monitoring.job``, which alone judges closed windows and stores alerts) into the report and
the view; the templates are shared with the standalone report ``parcelguard drift`` writes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from parcelguard.config import Settings
from scoring.api.deps import Principal, SettingsDep, StoreDep, require
from scoring.monitoring import charts, monitor, report
from scoring.store import Store

router = APIRouter(prefix="/analyst", tags=["analyst"])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
templates.env.filters.update(report.template_filters())

Analyst = Annotated[Principal, require("analyst", "admin")]
Granularity = Literal["hour", "day", "week"]
Days = Annotated[int | None, Query(ge=1, le=366, description="length of the period in days (default by granularity); "
                                    "at most 14 with hourly windows")]
# Hourly windows are summed from aggregates but each is still judged per feature: two weeks of them is plenty
# to read on one page, and bounds the work a request can ask for.
MAX_DAYS = {"hour": 14, "day": 366, "week": 366}


def _build(settings: Settings, store: Store, granularity: str, days: int | None, hub: str | None = None,
           page: bool = False) -> tuple[monitor.Report, report.RegistryFacts]:
    if days is not None and days > MAX_DAYS[granularity]:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"days: at most {MAX_DAYS[granularity]} days of {granularity} windows "
                            f"({days} asked); use granularity=day for longer periods")
    facts = report.registry_facts(settings)
    try:
        built = report.run(settings, store, granularity, span=timedelta(days=days) if days else None, hub=hub,
                           facts=facts, scopes={hub or monitor.ALL} if page else None)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return built, facts


@router.get("", include_in_schema=False)
def analyst_home(_user: Analyst) -> RedirectResponse:
    return RedirectResponse("/analyst/drift", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/drift", response_class=HTMLResponse, include_in_schema=False)
def drift_page(
    request: Request, user: Analyst, store: StoreDep, settings: SettingsDep, granularity: Granularity = "day",
    hub: str | None = None, version: str | None = None, days: Days = None,
) -> HTMLResponse:
    built, facts = _build(settings, store, granularity, days, hub, page=True)
    scope = hub or monitor.ALL
    if scope not in built.scopes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decisions from hub {hub!r}")
    if version is not None and version not in built.versions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"model version {version!r} scored nothing in this period")
    alerts = [a for a in store.alerts.recent(limit=200, since=built.since) if hub is None or a.scope == hub]
    return templates.TemplateResponse(request, "analyst_drift.html", {
        "user": user, "nav": "drift", "report": built, "view": report.scope_view(built, scope, version),
        "alerts": alerts, "can_ack": True, "thresholds": monitor.thresholds(), "registry_error": facts.error,
        "query": {"granularity": granularity, "hub": hub or "", "version": version or "", "days": days or ""},
    })


@router.get("/drift.json")
def drift_json(
    _user: Analyst, store: StoreDep, settings: SettingsDep, granularity: Granularity = "day", days: Days = None,
) -> Response:
    """The whole report (every hub, window and version) as JSON; NaN becomes null."""
    built, _ = _build(settings, store, granularity, days)
    return Response(report.to_json(built), media_type="application/json")


@router.get("/alerts.json")
def alerts_json(_user: Analyst, store: StoreDep, open_only: bool = False,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return [a.as_dict() for a in store.alerts.recent(limit=limit, open_only=open_only)]


@router.post("/alerts/{alert_id}/ack", include_in_schema=False)
def acknowledge(alert_id: int, request: Request, user: Analyst, store: StoreDep) -> RedirectResponse:
    if not store.alerts.acknowledge(alert_id, user.name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open alert {alert_id}")
    back = request.headers.get("referer", "")
    target = back[back.index("/analyst"):] if "/analyst" in back else "/analyst/drift"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _models(settings: Settings, store: Store) -> tuple[report.RegistryFacts, dict[str, dict[str, int]]]:
    return report.registry_facts(settings, with_reports=True), store.aggregates.acted_per_version()


@router.get("/models", response_class=HTMLResponse, include_in_schema=False)
def models_page(request: Request, user: Analyst, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    facts, counts = _models(settings, store)
    chart = charts.version_metrics(list(reversed(facts.versions))) if facts.versions else None
    return templates.TemplateResponse(request, "analyst_models.html", {
        "user": user, "nav": "models", "facts": facts, "counts": counts, "chart": chart,
    })


@router.get("/models.json")
def models_json(_user: Analyst, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    facts, counts = _models(settings, store)
    return {"name": facts.name, "live": facts.live, "error": facts.error, "decisions": counts,
            "versions": [{k: v for k, v in version.items() if k != "drift_reports"} | {
                "drift_reports": [{**r, "started": r["started"].isoformat()} for r in version["drift_reports"]],
                "created": version["created"].isoformat()} for version in facts.versions]}
