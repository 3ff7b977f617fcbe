"""Drift reports end to end: gather the registry's facts, build the monitoring report from the store,
keep its alerts, render it (self-contained HTML with inline SVG charts, and JSON) and log it to MLflow
as a child run of the training run of each model version it judges.

The analyst pages (``scoring/api/routes_analyst.py``) render the same view through the same templates.
A little over 400 lines: it also holds what a process keeps for the pages (registry facts, references, bins,
charts) and the warm-up that fills it when the API starts, beside the code that reads it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import mlflow
import numpy as np
import orjson
from mlflow.tracking import MlflowClient

from models import registry
from parcelguard.config import Settings
from scoring.monitoring import binning, charts, drift, monitor
from scoring.store import Store

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HEATMAP_ROWS = 24
REPORT_TAG = "parcelguard.drift_report_for"


@dataclass
class RegistryFacts:
    """What the registry says about a model: its versions, which are live, what each was trained on."""

    name: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    live: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def run_id(self, version: str) -> str | None:
        return next((v["run_id"] for v in self.versions if v["version"] == version), None)

    def expectations(self) -> dict[str, monitor.Expectation]:
        found: dict[str, monitor.Expectation] = {}
        for v in self.versions:
            metrics, params = v["metrics"], v["params"]
            share = _float(params.get("capacity_share"))
            recall, observed = metrics.get("test_recall_at_capacity"), metrics.get("test_observed_rate")
            miss = None
            if share is not None and recall is not None and observed is not None and share < 1:
                miss = observed * (1 - recall) / (1 - share)
            found[v["version"]] = monitor.Expectation(metrics.get("test_precision_at_capacity"), miss)
        return found


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_FACTS: dict[tuple[str, str, bool], tuple[float, RegistryFacts]] = {}
FACTS_MAX_AGE_S = 15.0  # the registry changes at a promotion; a page a few seconds behind it is fine


def registry_facts(settings: Settings, with_reports: bool = False) -> RegistryFacts:
    """Versions with their training metrics, promotion decision and aliases; never raises (a registry
    that is down is reported in ``error`` and the pages still show the decision log). Kept for
    ``FACTS_MAX_AGE_S`` per process: reading the registry cost a page 0.1–1.3 s."""
    key = (settings.mlflow_tracking_uri, settings.model_name, with_reports)
    found = _FACTS.get(key)
    if found is not None and time.monotonic() - found[0] < FACTS_MAX_AGE_S:
        return found[1]
    facts = _read_registry(settings, with_reports)
    if facts.error is None:  # an outage is asked again next time
        _FACTS[key] = (time.monotonic(), facts)
    return facts


def _read_registry(settings: Settings, with_reports: bool) -> RegistryFacts:
    name = settings.model_name
    facts = RegistryFacts(name)
    try:
        registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
        client = MlflowClient()
        versions = list(client.search_model_versions(f"name='{name}'"))
        if versions:  # search results leave aliases out; the registered model has them
            facts.live = {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}
        for mv in versions:
            run = client.get_run(str(mv.run_id))
            facts.versions.append({
                "version": str(mv.version), "run_id": mv.run_id,
                "aliases": sorted(a for a, v in facts.live.items() if v == str(mv.version)),
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                "metrics": dict(run.data.metrics), "params": dict(run.data.params), "tags": dict(run.data.tags),
                "promotion": _promotion(str(mv.run_id)),
                "drift_reports": _drift_reports(client, run.info.experiment_id, name, str(mv.version))
                if with_reports else [],
            })
    except Exception as exc:  # the pages must still show the decision log when the registry is down
        facts.error = f"{type(exc).__name__}: {exc}"
        log.warning("model registry unavailable for the analyst view", extra={"error": facts.error})
    facts.versions.sort(key=lambda v: monitor._version_key(v["version"]), reverse=True)
    return facts


def _promotion(run_id: str) -> dict[str, Any] | None:
    try:
        found = mlflow.artifacts.load_dict(f"runs:/{run_id}/promotion.json")
    except Exception:  # runs logged before promotion existed, or not promoted through training/promote.py
        return None
    return found if isinstance(found, dict) else None


def _drift_reports(client: MlflowClient, experiment_id: str, name: str, version: str) -> list[dict[str, Any]]:
    runs = client.search_runs([experiment_id], f"tags.`{REPORT_TAG}` = '{name}/{version}'",
                              max_results=5, order_by=["attributes.start_time DESC"])
    return [{"run_id": r.info.run_id, "started": datetime.fromtimestamp(r.info.start_time / 1000, UTC),
             "name": r.info.run_name, "metrics": dict(r.data.metrics)} for r in runs]


@lru_cache(maxsize=64)
def _schema_reference(tracking_uri: str, run_id: str) -> dict[str, Any] | None:
    """A version's training reference (versions never change, so it is read once per process)."""
    try:
        schema = mlflow.artifacts.load_dict(f"runs:/{run_id}/{registry.SCHEMA_ARTIFACT}")
    except Exception as exc:
        log.warning("no feature schema for run", extra={"run_id": run_id, "error": str(exc)})
        return None
    reference = schema.get("reference") if isinstance(schema, dict) else None
    return reference if isinstance(reference, dict) and reference else None


def period(store: Store, granularity: str, since: datetime | None, until: datetime | None,
           span: timedelta | None = None) -> tuple[datetime, datetime]:
    """The period to report on: by default the latest ``DEFAULT_SPAN`` of event time in the log
    (event time, not the wall clock, so a replayed month reports on that month)."""
    if until is None:
        found = store.reads.time_range()
        until = (found[1] if found else datetime.now(UTC)) + timedelta(seconds=1)
    if since is None:  # whole windows only: a window cut short by the period start is not judged
        since = monitor.window_start(until - (span or monitor.DEFAULT_SPAN[granularity]), granularity)
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if since >= until:
        raise ValueError(f"the period is empty: since {since.isoformat()} is not before until {until.isoformat()}")
    return since, until


_Found = TypeVar("_Found")


@lru_cache(maxsize=64)
def _layout(tracking_uri: str, run_id: str) -> binning.Layout | None:
    reference = _schema_reference(tracking_uri, run_id)
    return None if reference is None else binning.layout(reference)


def references(settings: Settings, facts: RegistryFacts) -> Callable[[str], dict[str, Any] | None]:
    """A version's training reference, by version (None: not in the registry, or no reference logged)."""
    return _by_version(settings, facts, _schema_reference)


def layouts(settings: Settings, facts: RegistryFacts) -> Callable[[str], binning.Layout | None]:
    """A version's histogram layout, fixed by its training reference (made once per process)."""
    return _by_version(settings, facts, _layout)


def _by_version(settings: Settings, facts: RegistryFacts,
                read: Callable[[str, str], _Found | None]) -> Callable[[str], _Found | None]:
    """``read(tracking URI, run id)`` of a version's training run, by version (None: not in the registry)."""

    def get(version: str) -> _Found | None:
        run_id = facts.run_id(version)
        return None if run_id is None else read(settings.mlflow_tracking_uri, run_id)

    return get


def warm(settings: Settings) -> RegistryFacts:
    """Do the pages' once-per-process work now (the API does it when it starts): read the registry (importing
    MLflow), load each version's training reference and make its bins: about 1 s at the first page view
    otherwise."""
    facts = registry_facts(settings)
    for version in facts.versions:
        _layout(settings.mlflow_tracking_uri, version["run_id"])
    return facts


def forget() -> None:
    """Drop what this process keeps (registry facts, references, bins, charts), as a fresh process starts."""
    _FACTS.clear()
    _schema_reference.cache_clear()
    _layout.cache_clear()
    _CHARTS.clear()


def run(
    settings: Settings,
    store: Store,
    granularity: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    span: timedelta | None = None,
    hub: str | None = None,
    facts: RegistryFacts | None = None,
    scopes: set[str] | None = None,
) -> monitor.Report:
    """The report for a period from the hourly aggregates and the registry; reads only (the monitoring job
    judges closed windows and stores their alerts). ``hub``: that hub's windows only; ``scopes``: judge drift
    for these scopes only (a page shows one)."""
    facts = facts or registry_facts(settings)
    since, until = period(store, granularity, since, until, span)
    aggregates = store.aggregates
    built = monitor.assemble(
        aggregates.counts(since, until, hub), aggregates.histograms(since, until, hub),
        aggregates.labels(since, until, hub), model_name=facts.name, granularity=granularity, since=since,
        until=until, references=references(settings, facts), layouts=layouts(settings, facts),
        capacity_share=settings.capacity_share, scopes=scopes or (None if hub is None else {hub}),
        expectations=facts.expectations(), live=facts.live,
    )
    if hub is not None:  # the hub menu lists every hub, not only the one read
        built.hubs = aggregates.hubs()
    return built


# --- the view: what the templates render ------------------------------------------------------------
def _pick_model(window: monitor.WindowReport, version: str | None) -> monitor.ModelWindow | None:
    """The version asked for, else whichever model acted in this window."""
    ranked = sorted(window.models, key=lambda m: (m.version != version, m.role != "in service"))
    return ranked[0] if ranked else None


def default_version(report: monitor.Report) -> str | None:
    champion = report.live.get("champion")
    versions = report.versions
    if champion in versions:
        return champion
    return versions[-1] if versions else None


# Rendered charts by a digest of what they draw: drawing was most of a page's time with matplotlib (0.1–0.4 s a
# chart); the SVG drawn directly costs milliseconds, but the same windows still need not be drawn twice.
_CHARTS: dict[str, dict[str, tuple[str, str]]] = {}
CHART_CACHE = 64


def scope_view(report: monitor.Report, scope: str = monitor.ALL, version: str | None = None,
               compact: bool = False) -> dict[str, Any]:
    """Everything one scope (all hubs, or one hub) shows: headline figures, charts, tables
    (``compact``: only the drift heatmap, the latest window's bars and flagged vs capacity)."""
    version = version or default_version(report)
    windows = report.scope_windows(scope)
    labels = [charts.window_label(w.start, report.granularity) for w in windows]
    picked = [_pick_model(w, version) for w in windows]
    view: dict[str, Any] = {"scope": scope, "version": version, "windows": windows, "labels": labels,
                            "charts": {}, "latest": None, "model": None, "features": []}
    if not windows:
        return view
    latest_index = max((i for i, m in enumerate(picked) if m is not None and m.rows), default=len(windows) - 1)
    latest, model = windows[latest_index], picked[latest_index]
    view.update(latest=latest, latest_label=labels[latest_index], model=model,
                features=[f.as_dict() for f in model.features] if model else [])
    key = hashlib.sha256(orjson.dumps([report.granularity, version, compact, labels, [w.as_dict() for w in windows]],
                                      option=JSON_OPTIONS)).hexdigest()
    cached = _CHARTS.get(key)
    if cached is not None:  # the same windows as a moment ago (the job folds once a minute): same charts
        view["charts"] = cached
        return view
    _charts(view, report.granularity, windows, labels, picked, latest_index, model, compact)
    _CHARTS[key] = view["charts"]
    while len(_CHARTS) > CHART_CACHE:
        _CHARTS.pop(next(iter(_CHARTS)))
    return view


def _charts(view: dict[str, Any], granularity: str, windows: list[monitor.WindowReport], labels: list[str],
            picked: list[monitor.ModelWindow | None], latest_index: int, model: monitor.ModelWindow | None,
            compact: bool) -> None:
    view["charts"]["operations"] = ("Flagged parcels vs X-ray capacity", charts.operations(labels, windows))
    if not compact:
        view["charts"]["rates"] = ("Hit rate of screened parcels and estimated miss rate among released (95% Wilson)",
                                   charts.rates(labels, windows))
        view["charts"]["origins"] = ("Volume by origin province",
                                     charts.origin_volume(labels, [w.by_origin for w in windows]))
    if any(m is not None and m.features for m in picked):
        view["charts"]["heatmap"] = ("Feature drift by window: colour = distance / threshold, ● drifted, grey = not "
                                     "judged", _heatmap(labels, picked))
    if not compact and any(m is not None and m.features for m in picked):
        view["charts"]["trend"] = ("Drifted features (bars) and score PSI (line; windows of 100+ scores) per window",
                                   charts.drift_trend(
            labels, [len(m.drifted) if m else 0 for m in picked],
            [m.score.value if m else math.nan for m in picked], drift.PSI_THRESHOLD))
    if model is not None and model.features:
        when = f"{granularity} of {labels[latest_index]}"
        view["charts"]["bars"] = (f"Per-feature drift of v{model.version}, {when} (dashed line: threshold)",
                                  charts.feature_bars(view["features"]))
        if not compact:
            view["charts"]["scores"] = (f"Scores of v{model.version}: training reference vs {when}",
                                        charts.score_histogram(model.histogram))


def _heatmap(labels: list[str], picked: list[monitor.ModelWindow | None]) -> str:
    names = list(dict.fromkeys(f.feature for m in picked if m for f in m.features))
    grid = {name: [next((f for f in m.features if f.feature == name), None) if m else None for m in picked]
            for name in names}

    def rank(name: str) -> tuple[int, float]:
        cells = [c for c in grid[name] if c is not None]
        return (-sum(c.drifted for c in cells), -max((c.severity for c in cells if c.judged), default=0.0))

    names = sorted(names, key=rank)[:HEATMAP_ROWS]
    severity = np.array([[c.severity if c else 0.0 for c in grid[n]] for n in names])
    judged = np.array([[bool(c and c.judged) for c in grid[n]] for n in names])
    drifted = np.array([[bool(c and c.drifted) for c in grid[n]] for n in names])
    return charts.drift_heatmap(names, labels, severity, judged, drifted)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html"]))
    env.filters.update(template_filters())
    return env


def template_filters() -> dict[str, Any]:
    """Number formats the analyst templates share (also registered on the API's templates)."""

    def pct(value: float | None, digits: int = 1) -> str:
        return "–" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f}%"

    def num(value: float | None, digits: int = 3) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"

    def pval(value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        return f"{value:.2f}" if value >= 0.01 else f"{value:.1e}"

    def local(value: datetime | None, granularity: str = "day") -> str:
        if value is None:
            return "–"
        return value.astimezone(charts.CHINA_TZ).strftime("%Y-%m-%d %H:%M" if granularity == "hour" else "%Y-%m-%d")

    return {"pct": pct, "num": num, "pval": pval, "local": local}


def render_html(report: monitor.Report, stored_alerts: list[dict[str, Any]] | None = None) -> str:
    """The whole report as one HTML file: every scope, inline SVG charts, no external resource."""
    scopes = [scope_view(report, scope, compact=scope != monitor.ALL) for scope in report.scopes]
    return _environment().get_template("analyst_report_standalone.html").render(
        report=report, scopes=scopes, alerts=stored_alerts if stored_alerts is not None else
        [a.as_row() for a in report.alerts], thresholds=monitor.thresholds())


def write(report: monitor.Report, out_dir: Path, stored_alerts: list[dict[str, Any]] | None = None
          ) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{report.granularity}-{report.until.astimezone(charts.CHINA_TZ):%Y%m%d-%H%M}"
    html_path, json_path = out_dir / f"drift-{stamp}.html", out_dir / f"drift-{stamp}.json"
    html_path.write_text(render_html(report, stored_alerts), encoding="utf-8")
    json_path.write_bytes(to_json(report))
    return html_path, json_path


# orjson writes NaN and infinity as null (they are not JSON), and numpy values with this option: no pass over
# the report first (walking a 14-day hourly report's ~900,000 values in Python took a third of the export).
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def to_json(report: monitor.Report) -> bytes:
    return orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2 | JSON_OPTIONS)


def log_to_mlflow(report: monitor.Report, facts: RegistryFacts, html_path: Path, json_path: Path) -> list[str]:
    """One run per judged version, nested under that version's training run; returns the run ids."""
    run_ids: list[str] = []
    for version in report.versions:
        parent = facts.run_id(version)
        if parent is None:
            log.warning("version not in the registry; its drift is not logged", extra={"version": version})
            continue
        overall = [w for w in report.scope_windows() if any(m.version == version for m in w.models)]
        latest = overall[-1] if overall else None
        model = _pick_model(latest, version) if latest else None
        metrics = {
            "windows": float(len(overall)),
            "alerts": float(sum(a.model_version == version for a in report.alerts)),
            "windows_with_drift": float(sum(bool(m.drifted) for w in overall for m in w.models
                                            if m.version == version)),
        }
        if latest is not None and model is not None:
            metrics.update(latest_drifted_features=float(len(model.drifted)), latest_score_psi=model.score.value,
                           latest_max_severity=max((f.severity for f in model.features if f.judged), default=0.0),
                           latest_flag_ratio=latest.capacity_ratio, latest_hit_rate=latest.hit.rate,
                           latest_miss_rate=latest.miss.rate)
        tags = {REPORT_TAG: f"{facts.name}/{version}", "parcelguard.kind": "drift-report",
                "model_name": facts.name, "model_version": version, "granularity": report.granularity}
        name = f"drift v{version} {report.granularity} {report.since:%Y-%m-%d}..{report.until:%Y-%m-%d}"
        nested = mlflow.active_run() is None
        with mlflow.start_run(run_name=name, parent_run_id=parent if nested else None, tags=tags,
                              nested=not nested) as run:
            mlflow.log_params({"granularity": report.granularity, "since": report.since.isoformat(),
                               "until": report.until.isoformat(), "model_version": version})
            mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None and math.isfinite(v)})
            mlflow.log_artifact(str(html_path), "drift")
            mlflow.log_artifact(str(json_path), "drift")
            run_ids.append(run.info.run_id)
    return run_ids
