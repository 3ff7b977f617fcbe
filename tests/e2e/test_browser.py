"""The screening pages in headless Chromium, against a real server, store and model.

A screener signs in, sees the hub's queue highest risk first, claims the top parcel, records contraband
in a few taps; the parcel leaves the queue and the label is in the training data. A parcel flagged while
the page is open appears without a reload. Every page is photographed at phone, tablet and desktop widths
(``PARCELGUARD_SCREENSHOTS=DIR`` keeps them) and must not scroll sideways on a phone.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from models.features import FeatureBuilder
from models.manifest import Manifest
from models.pii import Hasher
from models.risk_model import RiskModel
from parcelguard.config import Settings
from scoring.api.app import create_app
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.policy import PolicyConfig
from scoring.store import Store
from scoring.store.rows import Hub
from tests.conftest import make_settings
from tests.scoring.api_support import record
from training.dataset import replay_history
from training.train import fit
from training.world.generate import WorldFiles

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDTHS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1280, 800)}
LIVE = 1500  # the world's last parcels, scored as if they were arriving now


@pytest.fixture(scope="module")
def model(world: WorldFiles, tmp_path_factory: pytest.TempPathFactory) -> RiskModel:
    settings = make_settings(tmp_path_factory.mktemp("model"))
    policy = PolicyConfig.build(settings.priority_origins, settings.destinations)
    data, _ = replay_history(world.manifests, world.outcomes, FeatureBuilder(Hasher("test-hash-key")), policy)
    trained, _ = fit(data, name="parcelguard-risk")
    return trained


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """uvicorn on a free loopback port, in a thread, for the browser to reach."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def scored_store(settings: Settings, model: RiskModel, world: WorldFiles) -> Store:
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    with world.manifests.open("rb") as lines:
        total = sum(1 for _ in lines)
    with world.manifests.open("rb") as lines:
        raws = [orjson.loads(line) for line in islice(lines, total - LIVE, None)]
    scorer = Scorer(settings, store, ModelSource.fixed(model))
    for start in range(0, len(raws), 500):
        scorer.process([(Manifest.model_validate(raw), raw) for raw in raws[start:start + 500]])
    return store


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(base + "/")
    page.fill("#token", key)
    page.click("button[type=submit]")


def shoot(page: Page, folder: Path, name: str, width: str) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(700)  # let a smooth scroll or a toast settle: this is a picture, not an assertion
    page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")  # a sticky header photographs right from the top
    page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
    if width != "desktop":  # nothing may push the page wider than the phone or tablet
        limit = WIDTHS[width][0]
        wide = page.evaluate(f"""() => [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > {limit} + 1)
            .map(e => `${{e.tagName}}.${{e.className}} ${{Math.round(e.getBoundingClientRect().right)}}px`)""")
        assert page.evaluate("document.documentElement.scrollWidth") <= limit, (name, wide[:8])


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PARCELGUARD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Site:
    """One scored store and one server for every test in this module (a server per test would cost seconds)."""

    store: Store
    hub: str
    base: str


@pytest.fixture(scope="module")
def site(world: WorldFiles, model: RiskModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("site")
    settings = make_settings(folder / "data", watchlist_path=folder / "watchlist.json")
    store = scored_store(settings, model, world)
    for hub_id, name in (("HAK-MEILAN", "Haikou Meilan"), ("HAK-XIUYING", "Haikou Xiuying"),
                         ("SYX-TIANYA", "Sanya Tianya")):
        store.hubs.save(Hub(hub_id, name, "Asia/Shanghai", default_capacity=40), actor="test")
    hub = max(("HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA"), key=lambda h: len(store.queue.waiting(h, 500)))
    store.capacity.set(hub, 60, actor="admin-zhao")
    store.access.add_key("screener-wang", "screener", "key-screener", hub)
    store.access.add_key("admin-zhao", "admin", "key-admin")
    store.access.add_key("analyst-chen", "analyst", "key-analyst")
    with serve(create_app(settings, store)) as base:
        yield Site(store, hub, base)


def test_a_screener_claims_records_contraband_and_the_label_reaches_training(
    site: Site, browser: Browser, shots: Path
) -> None:
    store, hub = site.store, site.hub
    top = store.queue.waiting(hub, 1)[0].parcel_id
    base = site.base
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, base, "key-screener")
    expect(page).to_have_url(f"{base}/hubs/{hub}/queue")
    expect(page.locator(".queue-card").first).to_have_attribute("data-pid", top)  # highest risk first
    expect(page.locator("#s-flagged")).to_contain_text("/ 60")

    page.click("#claim-next")
    held = page.locator(f'.mine-card[data-pid="{top}"]')
    expect(held).to_be_visible()
    expect(page.locator(f'.queue-card[data-pid="{top}"]')).to_have_count(0)
    # The claim's time left reads as a duration, not as one more clock time on a page of them.
    expect(held.locator(".expires")).to_have_text(re.compile(r"^yours for 1[45] min \d{1,2} s$"))
    held.get_by_text("Methamphetamine").click()
    held.locator(".qty").fill("350")
    held.locator(".note").fill("inside two tea tins")
    held.get_by_role("button", name="Record contraband").click()
    expect(page.locator("#toast")).to_contain_text(f"{top}: recorded contraband (methamphetamine, 350 g)")
    expect(held).to_have_count(0)
    expect(page.locator(f'[data-pid="{top}"]')).to_have_count(0)

    labels = {row.parcel_id: row.label for row in store.reads.labelled_rows()}
    assert labels[top] is True
    outcome = store.outcomes.for_parcel(top)[0]
    assert (outcome.contraband_type, outcome.quantity_g, outcome.recorded_by) == (
        "methamphetamine", 350.0, "screener-wang")
    assert [(e.action, e.actor) for e in store.audit.for_parcel(top)] == [
        ("claim", "screener-wang"), ("outcome", "screener-wang")]

    # A parcel flagged while the page is open shows up without a reload, at the top; being high risk, it is
    # counted in the badge and the tab's title until the screener looks (a tap), with no chime unless turned on.
    expect(page.locator("#sound")).not_to_be_checked()
    fresh = record("JTLIVE0000001", hub_id=hub, score=0.97, accepted_at=datetime.now(UTC).isoformat())
    store.decisions.record([fresh], {})
    expect(page.locator(".queue-card").first).to_have_attribute("data-pid", "JTLIVE0000001", timeout=15_000)
    expect(page.locator("#fresh")).to_have_text("1 new high-risk")
    expect(page).to_have_title(f"(1) {hub} queue · ParcelGuard")
    expect(page.locator(".queue-card.new")).to_have_count(1)
    expect(page.locator(".queue-card").first.locator(".risk")).to_contain_text("1st highest of")
    assert page.evaluate("window.pgChimes") == 0
    page.locator("h1").click()
    expect(page.locator("#fresh")).to_be_hidden()
    expect(page).to_have_title(f"{hub} queue · ParcelGuard")
    page.locator("#sound").check()
    store.decisions.record([record("JTLIVE0000002", hub_id=hub, score=0.98,
                                   accepted_at=datetime.now(UTC).isoformat())], {})
    expect(page.locator("#fresh")).to_have_text("1 new high-risk", timeout=15_000)
    assert page.evaluate("window.pgChimes") == 1
    page.close()

    _photograph_every_page(browser, base, store, hub, shots)


def _photograph_every_page(browser: Browser, base: str, store: Store, hub: str, shots: Path) -> None:
    for width, (w, h) in WIDTHS.items():
        context = browser.new_context(viewport={"width": w, "height": h})
        page = context.new_page()
        page.goto(base + "/")
        shoot(page, shots, "login", width)
        sign_in(page, base, "key-screener")
        expect(page.locator(".queue-card").first).to_be_visible()
        shoot(page, shots, "queue", width)
        page.click("#claim-next")
        expect(page.locator(".mine-card")).to_have_count(1)
        shoot(page, shots, "queue-holding", width)
        parcel = page.locator(".mine-card").first.get_attribute("data-pid")
        page.goto(f"{base}/parcels/{parcel}")
        expect(page.locator("h1")).to_have_text(str(parcel))
        shoot(page, shots, "parcel", width)
        page.goto(f"{base}/search?q={str(parcel)[:2]}")
        shoot(page, shots, "search", width)
        page.goto(f"{base}/parcels/NO-SUCH-PARCEL")
        expect(page.locator("h1")).to_have_text("Not found")
        shoot(page, shots, "error", width)
        page.goto(f"{base}/parcels/{parcel}")
        page.locator(".who button").click()  # sign out, hand the parcel back by letting the claim lapse
        sign_in(page, base, "key-admin")
        expect(page.locator(".hub").first).to_be_visible()
        shoot(page, shots, "hubs", width)
        page.goto(f"{base}/admin")
        expect(page.locator("#keys tr").first).to_be_visible()
        shoot(page, shots, "admin", width)
        store.claims.release(str(parcel), "screener-wang")
        context.close()


def test_each_role_sees_its_menu_hub_times_and_plain_errors(site: Site, browser: Browser) -> None:
    """Screener: rank instead of raw risk, hub-local labelled times, one toast at a time, error pages with the menu.
    Analyst: Drift and Models in the menu, backlog age and throughput per hub, raw figures, models in UTC.
    Admin: the hub registry, the capacity an override replaced, a typo hub refused in plain words."""
    base, hub = site.base, site.hub
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, "key-screener")
    card = page.locator(".queue-card").first
    expect(card.locator(".risk")).to_contain_text("highest of")
    expect(card.locator(".risk")).not_to_contain_text("score")
    expect(page.locator("#updated")).to_contain_text("CST (UTC+8)")
    expect(page.locator("nav.main a")).to_have_text(["Queue", "Search"])
    parcel = card.get_attribute("data-pid")
    page.goto(f"{base}/parcels/{parcel}")
    expect(page.locator(".decision")).to_contain_text("highest of")
    expect(page.locator(".decision")).to_contain_text("CST (UTC+8)")
    expect(page.locator(".decision")).not_to_contain_text("Selection probability")
    page.goto(f"{base}/no/such/page")  # an error no route handled: the page still knows who is signed in
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".who button")).to_have_text("Sign out")
    expect(page.locator("nav.main a").first).to_have_text("Queue")
    assert page.request.get(f"{base}/favicon.ico").status == 200
    page.goto(f"{base}/hubs/{hub}/queue")
    page.evaluate("toast('first', true); toast('second', true); toast('third', true)")
    expect(page.locator("#toast > div")).to_have_count(1)
    expect(page.locator("#toast")).to_have_text("third")
    page.locator(".who button").click()

    sign_in(page, base, "key-analyst")
    expect(page).to_have_url(f"{base}/hubs")
    expect(page.locator("nav.main a")).to_have_text(["Hubs", "Search", "Drift", "Models"])
    meilan = page.locator(f'.hub[data-hub="{hub}"]')
    expect(meilan).to_contain_text("oldest waiting")
    expect(meilan.locator(".throughput b")).to_contain_text("/ 60")  # screened in the last hour against capacity
    expect(meilan).to_contain_text("CST (UTC+8)")
    page.goto(f"{base}/parcels/{parcel}")
    expect(page.locator(".decision")).to_contain_text("Selection probability")
    page.set_viewport_size({"width": 800, "height": 800})  # the Models table is wider than its card here
    page.goto(f"{base}/analyst/models")
    expect(page.locator("nav.main a[aria-current=page]")).to_have_text("Models")
    versions = page.locator(".scroll").first
    expect(page.locator(".scroll-hint").first).to_be_visible()
    expect(versions).to_have_class("scroll more")
    versions.evaluate("box => box.scrollTo({left: box.scrollWidth})")
    expect(versions).to_have_class("scroll")  # at the end: nothing more out of sight
    expect(page.locator("th", has_text="latest drift report")).to_be_in_viewport()
    page.locator(".who button").click()

    sign_in(page, base, "key-admin")
    page.goto(f"{base}/admin")
    expect(page.locator("#hubs")).to_contain_text("Asia/Shanghai · CST (UTC+8)")
    expect(page.locator("#caps tr", has_text=hub)).to_contain_text("60")
    expect(page.locator("#caps tr", has_text=hub)).to_contain_text("40")  # the registry's default it overrides
    page.fill("#k-name", "screener-typo")
    page.fill("#k-hub", "HAK-MEILAM")
    page.click("#k-issue")
    expect(page.locator("#toast")).to_contain_text("hub 'HAK-MEILAM' is not registered")
    page.fill("#w-value", " ")
    page.click("#w-add")
    expect(page.locator("#toast > div")).to_have_count(1)
    expect(page.locator("#toast")).not_to_contain_text("String should")
    context.close()
