"""Analyst pages in Chromium at a store of ``DECISIONS`` seeded decisions: they load within a loose bound (the
tight figures at a million are ``parcelguard bench-pages``'), name the drifting day, say why hour windows and
small samples are not judged, and viewing them writes no alert (``PARCELGUARD_SCREENSHOTS=DIR`` keeps the
screenshots)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from models.features import CHINA_TZ
from parcelguard.bench_pages import HUBS, register_champion, seed_store
from parcelguard.config import Settings
from scoring.api.app import create_app
from scoring.db import make_engine
from scoring.monitoring import job
from scoring.store import Store
from tests.conftest import make_settings
from tests.e2e.test_browser import CHROMIUM_ARGS, serve

pytestmark = [pytest.mark.slow, pytest.mark.browser]
# The largest store the suite's budget affords (seeding and the job's first pass take ~1 s per 10k here);
# pages read hourly aggregates, whose size depends on hours and hubs, not on decisions.
DECISIONS = 200_000
END = datetime(2026, 11, 20, tzinfo=CHINA_TZ)  # the last seeded day (the shifted one) is whole
LOAD_BOUND_S = 5.0  # loose, for CI on a shared machine
TOKEN = "tok-analyst-scale"


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    store: Store


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    settings = make_settings(tmp_path_factory.mktemp("analyst-scale") / "data", hub_capacity_per_hour={})
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    register_champion(settings)
    seed_store(store, settings, DECISIONS, days=30, shifted_days=2, end=END)
    job.run_once(settings, store, full=True)
    store.access.add_key("analyst-scale", "analyst", TOKEN)
    yield Seeded(settings, store)
    store.engine.dispose()


def _timed(page: Page, url: str) -> float:
    started = time.perf_counter()
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return time.perf_counter() - started


def test_analyst_pages_at_scale_are_quick_right_and_write_no_alerts(seeded: Seeded, tmp_path: Path) -> None:
    shots = Path(os.environ.get("PARCELGUARD_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    alerts = seeded.store.alerts.recent(limit=1000)
    stored = sorted((a.key, a.last_seen_at) for a in alerts)
    assert any(a.granularity == "day" and a.kind == "feature_drift" for a in alerts), "the job judged the shift"
    jams = [a.message for a in alerts if a.kind == "flag_rate" and a.severity == "critical"
            and a.window_start is not None and a.window_start < END - timedelta(days=3)]
    assert not jams, "days before the shift flag what the admin's capacity allows (5% of parcels would jam)"
    with serve(create_app(seeded.settings, seeded.store)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/?next=/analyst/drift")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/analyst/drift")
        open_badge = page.locator("#alerts h3 .badge").inner_text() if stored else ""

        timings = {"day": _timed(page, f"{base}/analyst/drift")}
        card = page.locator("[data-testid=drift-card]")
        assert card.locator(".value").inner_text().endswith("drifting"), "the shifted day drifts"
        assert "weight_kg" in card.inner_text() or "volume_l" in card.inner_text()
        page.screenshot(path=str(shots / "analyst-scale-day.png"), full_page=True)

        timings["hour"] = _timed(page, f"{base}/analyst/drift?granularity=hour")
        assert card.locator(".value").inner_text() == "not judged"
        assert "not judged in hour windows" in card.inner_text()
        page.screenshot(path=str(shots / "analyst-scale-hour.png"), full_page=True)

        timings["week"] = _timed(page, f"{base}/analyst/drift?granularity=week")
        timings["hub"] = _timed(page, f"{base}/analyst/drift?hub={HUBS[0]}")
        assert page.locator("svg.chart").count() >= 5
        timings["models"] = _timed(page, f"{base}/analyst/models")
        timings["day again"] = _timed(page, f"{base}/analyst/drift")
        if stored:
            assert page.locator("#alerts h3 .badge").inner_text() == open_badge
        browser.close()
    assert sorted((a.key, a.last_seen_at) for a in seeded.store.alerts.recent(limit=1000)) == stored, \
        "switching views wrote no alert"
    slow = {name: round(s, 2) for name, s in timings.items() if s > LOAD_BOUND_S}
    assert not slow, f"pages over {LOAD_BOUND_S} s at {DECISIONS:,} decisions: {slow}"
