"""Analyst pages: drift and performance with their charts, alerts with acknowledgement, the model view;
over HTTP, and in headless Chromium (``PARCELGUARD_SCREENSHOTS=DIR`` keeps the screenshots)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

from scoring.api.app import create_app
from scoring.monitoring import job, report
from tests.analyst_scenario import Scenario, scenario
from tests.e2e.test_browser import CHROMIUM_ARGS, serve

pytestmark = pytest.mark.slow
KEYS = {"analyst": "tok-analyst-pages", "admin": "tok-admin-pages", "screener": "tok-screener-pages"}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    built = scenario(tmp_path_factory.getbasetemp())
    job.run_once(built.settings, built.store)  # the monitoring job folds the log the pages read
    built.store.access.add_key("analyst-pages", "analyst", KEYS["analyst"])
    built.store.access.add_key("admin-pages", "admin", KEYS["admin"])
    built.store.access.add_key("screener-pages", "screener", KEYS["screener"], "HAK-MEILAN")
    return built


@pytest.fixture(scope="module")
def client(analysed: Scenario) -> Iterator[TestClient]:
    with TestClient(create_app(analysed.settings, analysed.store)) as test_client:
        yield test_client


def test_the_api_reads_the_registry_and_makes_each_versions_bins_when_it_starts(analysed: Scenario) -> None:
    report.forget()  # as a fresh process: the job's pass in the fixture made them already
    app = create_app(analysed.settings, analysed.store, warm_analyst=True)
    with TestClient(app):
        assert app.state.warmed.wait(60)
        assert report._layout.cache_info().currsize == 2  # v1 (champion) and v2 (challenger), before any page
        assert report._FACTS


def _as(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def test_drift_page_shows_cards_alerts_and_charts(client: TestClient) -> None:
    page = client.get("/analyst/drift", headers=_as("analyst"))
    assert page.status_code == 200
    html = page.text
    for chart in ("heatmap", "bars", "scores", "trend", "operations", "rates", "origins"):
        assert f'data-chart="{chart}"' in html, chart
    assert html.count('<svg') >= 7 and "champion v1" in html and "challenger v2" in html
    assert "feature drift" in html and "drifting" in html and "Acknowledge" in html
    hub = client.get("/analyst/drift", params={"hub": "HAK-XIUYING", "granularity": "week"}, headers=_as("admin"))
    assert hub.status_code == 200 and "Hub HAK-XIUYING" in hub.text
    hourly = client.get("/analyst/drift", params={"granularity": "hour"}, headers=_as("analyst"))
    assert hourly.status_code == 200 and "not judged in hour windows" in hourly.text
    shadow = client.get("/analyst/drift", params={"version": "2"}, headers=_as("analyst"))
    assert shadow.status_code == 200 and "model v2" in shadow.text


def test_page_views_write_no_alerts(client: TestClient, analysed: Scenario) -> None:
    before = [(a.key, a.last_seen_at) for a in analysed.store.alerts.recent(limit=1000)]
    for granularity in ("hour", "day", "week"):
        for hub in ("", "HAK-MEILAN"):
            page = client.get("/analyst/drift", params={"granularity": granularity, "hub": hub}, headers=_as("analyst"))
            assert page.status_code == 200
        assert client.get("/analyst/drift.json", params={"granularity": granularity},
                          headers=_as("analyst")).status_code == 200
    assert [(a.key, a.last_seen_at) for a in analysed.store.alerts.recent(limit=1000)] == before


def test_bad_requests_and_roles_get_clear_errors(client: TestClient) -> None:
    assert client.get("/analyst/drift", headers=_as("screener")).status_code == 403
    unknown = client.get("/analyst/drift.json", params={"granularity": "month"}, headers=_as("analyst"))
    assert unknown.status_code == 422 and "granularity" in unknown.json()["detail"]
    missing = client.get("/analyst/drift", params={"hub": "NOWHERE"}, headers=_as("analyst"))
    assert missing.status_code == 404
    assert client.get("/analyst/alerts.json").status_code == 401


def test_alerts_are_listed_and_acknowledged_once(client: TestClient) -> None:
    report = client.get("/analyst/drift.json", headers=_as("analyst")).json()
    assert report["windows"][0]["models"][0]["features"]
    open_alerts = client.get("/analyst/alerts.json", params={"open_only": True}, headers=_as("analyst")).json()
    target = open_alerts[0]["id"]
    done = client.post(f"/analyst/alerts/{target}/ack", headers=_as("analyst"), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/analyst")
    still_open = client.get("/analyst/alerts.json", params={"open_only": True}, headers=_as("analyst")).json()
    assert target not in {a["id"] for a in still_open}
    assert client.post(f"/analyst/alerts/{target}/ack", headers=_as("analyst")).status_code == 404


def test_model_view_shows_versions_promotions_and_what_is_live(client: TestClient) -> None:
    page = client.get("/analyst/models", headers=_as("analyst"))
    assert page.status_code == 200
    assert 'data-alias="champion"' in page.text and "v1" in page.text and "kept as challenger" in page.text
    assert "promoted" in page.text and 'data-chart="versions"' in page.text
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", page.text)  # registered: tied to no hub, so UTC, named
    data = client.get("/analyst/models.json", headers=_as("analyst")).json()
    assert data["live"] == {"champion": "1", "challenger": "2"}
    assert {v["version"]: v["promotion"]["promoted"] for v in data["versions"]} == {"1": True, "2": False}
    assert data["decisions"]["1"]["acted"] > 0 and data["decisions"]["2"]["shadow"] > 0


@pytest.mark.browser
def test_pages_render_with_their_charts_in_chromium(analysed: Scenario, tmp_path: Path) -> None:
    shots = Path(os.environ.get("PARCELGUARD_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    external: list[str] = []
    with serve(create_app(analysed.settings, analysed.store)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
        page.goto(f"{base}/?next=/analyst/drift")
        page.fill("#token", KEYS["analyst"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/analyst/drift")
        charts = page.locator("svg.chart")
        assert charts.count() >= 7
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 120
        assert page.locator("[data-testid=drift-card] .value").inner_text().endswith("drifting")
        page.screenshot(path=str(shots / "analyst-drift.png"), full_page=True)
        page.goto(f"{base}/analyst/drift?hub=SYX-TIANYA")
        assert page.locator("svg.chart").count() >= 5
        page.screenshot(path=str(shots / "analyst-drift-hub.png"), full_page=True)
        page.goto(f"{base}/analyst/models")
        assert page.locator("[data-chart=versions] svg.chart").count() == 1
        assert page.locator("[data-alias=champion] .value").inner_text() == "v1"
        page.screenshot(path=str(shots / "analyst-models.png"), full_page=True)
        phone = browser.new_context(storage_state=page.context.storage_state(),
                                    viewport={"width": 390, "height": 844}).new_page()
        phone.goto(f"{base}/analyst/drift")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, "no sideways scroll on a phone"
        phone.screenshot(path=str(shots / "analyst-drift-phone.png"), full_page=True)
        browser.close()
    assert external == [], "the pages load nothing from elsewhere"
