"""Monitoring windows over the decision log, the alerts they raise, and ``parcelguard drift``."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import orjson
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from models import registry
from parcelguard import config
from parcelguard.cli import app
from scoring.monitoring import job, monitor, report
from tests.analyst_scenario import Scenario, scenario

T0 = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # 08:30 in Haikou


def _row(i: int, *, hub: str = "HAK-MEILAN", action: str = "RELEASE", why: str = "model", propensity: float = 0.02,
         label: bool | None = None, late: bool = False, at: datetime = T0) -> dict[str, Any]:
    return {"parcel_id": f"P{i}", "hub_id": hub, "action": action, "why": why, "score": 0.01, "propensity": propensity,
            "model_version": "1", "shadow_version": None, "shadow_score": None, "origin_province": "Yunnan",
            "accepted_at": at + timedelta(seconds=i), "features": None, "label": label, "late": late}


def _build(rows: list[dict[str, Any]], **kwargs: Any) -> monitor.Report:
    return monitor.build_report(rows, model_name="m", granularity="day", since=T0 - timedelta(hours=1),
                                until=T0 + timedelta(days=1), references=lambda _v: None, capacity_share=0.05,
                                **kwargs)


def test_miss_rate_is_estimated_from_exploration_labels_weighted_by_propensity() -> None:
    rows = [_row(i) for i in range(1000)]  # released, unlabelled
    rows += [_row(1000 + i, action="SCREEN", why="exploration", propensity=0.01, label=i < 2) for i in range(40)]
    rows += [_row(2000 + i, action="SCREEN", why="exploration", propensity=0.04, label=i < 1) for i in range(20)]
    rows += [_row(3000 + i, action="SCREEN", why="model", propensity=1.0, label=i < 6) for i in range(30)]
    rows += [_row(4000, late=True, label=True)]
    window = _build(rows).scope_windows()[0]
    weights = [100.0] * 40 + [25.0] * 20
    hits = [1.0] * 2 + [0.0] * 38 + [1.0] + [0.0] * 19
    expected = sum(w * y for w, y in zip(weights, hits, strict=True)) / sum(weights)
    assert math.isclose(window.miss.rate, expected)
    assert window.miss.low < expected < window.miss.high
    assert window.miss.n < 60  # unequal weights: fewer effective labels than explored parcels
    assert (window.hit.hits, window.hit.n) == (6 + 3, 30 + 60)  # screened parcels with an X-ray outcome
    assert (window.model_hit.hits, window.model_hit.n) == (6, 30)
    assert window.late_hits == 1 and window.released == 1001
    assert math.isclose(window.expected_missed, expected * 1001)


def test_flag_rate_against_hourly_capacity_raises_an_alert_per_hub() -> None:
    rows = [_row(i, action="SCREEN" if i % 4 == 0 else "RELEASE") for i in range(400)]
    rows += [_row(1000 + i, hub="SYX-TIANYA", action="SCREEN" if i % 20 == 0 else "RELEASE") for i in range(400)]
    built = _build(rows, hub_capacity_per_hour={"HAK-MEILAN": 2})
    by_scope = {w.scope: w for w in built.windows}
    assert by_scope["HAK-MEILAN"].flagged == 100 and by_scope["SYX-TIANYA"].flagged == 20
    assert math.isclose(by_scope["SYX-TIANYA"].capacity, 0.05 * 400)  # no hourly capacity: the share
    assert by_scope["HAK-MEILAN"].capacity == 2 * 16.5  # 2 an hour over the 16.5 h of the window in the period
    flagged = [(a.kind, a.scope) for a in built.alerts]
    assert ("flag_rate", "HAK-MEILAN") in flagged and ("flag_rate", "SYX-TIANYA") not in flagged


def test_windows_follow_china_local_days_and_weeks() -> None:
    late_evening_utc = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # 01:00 on the 20th in Haikou
    assert monitor.window_start(late_evening_utc, "day") == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert monitor.window_start(late_evening_utc, "week") == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)  # Monday
    assert monitor.window_start(late_evening_utc, "hour") == late_evening_utc
    with pytest.raises(ValueError, match="granularity"):
        monitor.build_report([], model_name="m", granularity="month", since=T0, until=T0, references=lambda _v: None,
                             capacity_share=0.05)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return scenario(tmp_path_factory.getbasetemp())


@pytest.mark.slow
def test_the_decision_log_is_judged_per_day_hub_and_version(analysed: Scenario) -> None:
    job.run_once(analysed.settings, analysed.store)
    built = report.run(analysed.settings, analysed.store, "day")
    built.alerts = monitor.evaluate_alerts(built)
    assert built.live == {"champion": "1", "challenger": "2"}
    assert built.scopes == ["all", "HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA"]
    overall = built.scope_windows()
    assert len(overall) == 4 and all(w.in_scope > 1000 for w in overall)
    roles = {(m.version, m.role) for m in overall[-1].models}
    assert roles == {("1", "in service"), ("2", "shadow")}
    acting = [next(m for m in w.models if m.role == "in service") for w in overall]
    assert all(m.features and all(f.judged == (f.kind != "calendar") for f in m.features) for m in acting)
    assert not acting[0].drifted, "the last stationary day must not drift"
    assert acting[-1].drifted, "two days into the generator's shift, features drift"
    assert all(0.5 < w.capacity_ratio < 1.5 for w in overall)
    assert all(w.hit.n > 0 and w.miss.n > 0 for w in overall)
    kinds = {a.kind for a in built.alerts}
    assert "feature_drift" in kinds
    named = [a for a in built.alerts if a.kind == "feature_drift" and a.scope == "all"][-1]
    assert named.detail["features"] and all(f["feature"] in named.message for f in named.detail["features"][:5])
    closed = {a.key for a in built.alerts if a.window_end <= built.until - job.GRACE}
    assert {a.key for a in analysed.store.alerts.recent(limit=500)} >= closed  # the job stored them
    data = orjson.loads(report.to_json(built))
    assert data["windows"][0]["models"][0]["features"][0]["method"] in ("wasserstein", "jensen_shannon", "psi")


@pytest.mark.slow
def test_parcelguard_drift_writes_html_and_json_and_logs_beside_the_model(
    analysed: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = analysed.settings
    for name, value in {"PARCELGUARD_DATA_DIR": str(settings.data_dir),
                        "PARCELGUARD_DATABASE_URL": settings.database_url,
                        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
                        "PARCELGUARD_HASH_KEY": settings.hash_key.get_secret_value()}.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()
    try:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, ["drift", "--since", "2026-10-13"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    reports = settings.data_dir / "reports"  # under the data folder, not ./data/reports
    assert not (tmp_path / "data").exists()
    html = next(reports.glob("drift-day-*.html")).read_text()
    data = orjson.loads(next(reports.glob("drift-day-*.json")).read_bytes())
    assert html.count("<svg") >= 7 and "feature drift heatmap" in html
    assert "<script src" not in html and "<link" not in html and "https://" not in html  # self-contained
    assert "HAK-XIUYING" in html and "drifting" in html
    assert data["granularity"] == "day" and data["live"] == {"champion": "1", "challenger": "2"}
    assert data["since"].startswith("2026-10-12T16:00")  # 2026-10-13 00:00 in Haikou
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    client = MlflowClient()
    parent = client.get_model_version(settings.model_name, "1").run_id
    runs = mlflow.search_runs(filter_string=f"tags.`{report.REPORT_TAG}` = '{settings.model_name}/1'",
                              output_format="list")
    assert runs and runs[0].data.tags["mlflow.parentRunId"] == parent
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id, "drift")}
    assert any(p.endswith(".html") for p in artifacts) and any(p.endswith(".json") for p in artifacts)
    bad = CliRunner().invoke(app, ["drift", "--granularity", "month"])
    assert bad.exit_code != 0 and "granularity" in bad.output
