"""The OWASP pass on the API: tokens die with their key, bad input gets a 422 that says why (never a 500),
bodies are bounded and read only after authentication, cookie posts must come from this site, every response
carries the security headers, failed sign-ins are throttled and logged, and the docs and metrics are closed
outside development."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scoring.store import Store
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, TOKENS, add_keys, client, record, seed

ORIGIN = {"origin": "http://testserver"}  # what a browser sends with a post from the pages


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    seed(store, [record("P-HIGH", score=0.8), record("P-REL", action="RELEASE", score=0.01, reasons=[])])
    headers = add_keys(store)
    settings = make_settings(tmp_path / "data", watchlist_path=tmp_path / "watch" / "watchlist.json",
                             sign_in_failures_per_minute=5)
    with client(settings, store) as test_client:
        yield test_client, headers


# --- tokens die with their key ------------------------------------------------------------------------
def test_reissuing_a_key_by_name_kills_its_tokens_and_cookies_and_never_promotes_them(
        api: tuple[TestClient, Any], store: Store) -> None:
    c, h = api
    token = {"Authorization": f"Bearer {c.post('/api/auth/token', headers=h['screener']).json()['access_token']}"}
    signed = c.post("/login", data={"token": TOKENS["screener"]}, headers=ORIGIN, follow_redirects=False)
    cookie = {"pg_session": signed.cookies["pg_session"]}
    assert c.get("/api/auth/me", headers=token).status_code == 200
    c.cookies.clear()
    assert c.get("/api/auth/me", cookies=cookie).status_code == 200

    store.access.add_key("screener-wang", "admin", "a-brand-new-admin-key")  # `parcelguard add-key` does this
    assert c.get("/api/auth/me", headers=token).status_code == 401
    assert c.get("/api/auth/me", cookies=cookie).status_code == 401
    assert c.get("/api/auth/me", headers=h["screener"]).status_code == 401  # the old key itself
    fresh = {"Authorization": "Bearer a-brand-new-admin-key"}
    assert c.get("/api/auth/me", headers=fresh).json()["role"] == "admin"


# --- 422s with a message, never 500s ------------------------------------------------------------------
YEAR_ONE = "0001-01-01T00:00:00+14:00"  # valid ISO 8601, but before UTC's year 1 once converted


def test_a_date_outside_utcs_range_is_a_422_that_says_so(api: tuple[TestClient, Any]) -> None:
    c, h = api
    outcome = c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear", "screened_at": YEAR_ONE},
                     headers=h["admin"])
    assert outcome.status_code == 422 and "screened_at" in outcome.json()["detail"]
    late = c.post("/api/parcels/P-REL/late-label", json={"contraband_type": "heroin", "found_at": YEAR_ONE},
                  headers=h["analyst"])
    assert late.status_code == 422 and "found_at: must be a date from 2000 on" in late.json()["detail"]


def test_a_watch_list_value_with_nothing_to_match_is_a_422(api: tuple[TestClient, Any]) -> None:
    c, h = api
    r = c.post("/api/admin/watchlist", json={"entries": [{"kind": "phone", "value": "---"}]}, headers=h["admin"])
    assert r.status_code == 422 and "nothing to match" in r.json()["detail"]


def test_capacity_must_be_a_number_not_true(api: tuple[TestClient, Any]) -> None:
    c, h = api
    r = c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": True}, headers=h["admin"])
    assert r.status_code == 422 and "per_hour" in r.json()["detail"]
    assert c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": 30}, headers=h["admin"]).status_code == 200


def test_hubs_lists_only_hub_ids_the_api_can_address(api: tuple[TestClient, Any], store: Store) -> None:
    c, h = api
    seed(store, [record("P-SPACE", hub_id="HAK MEILAN")])  # stored before intake checked the pattern
    listed = [hub["hub_id"] for hub in c.get("/api/hubs", headers=h["analyst"]).json()]
    assert HUB in listed and "HAK MEILAN" not in listed


def test_hourly_drift_over_a_long_period_is_refused_with_the_limit(api: tuple[TestClient, Any]) -> None:
    c, h = api
    r = c.get("/analyst/drift.json?days=181&granularity=hour", headers=h["analyst"])
    assert r.status_code == 422 and "at most 14 days of hour windows" in r.json()["detail"]
    assert c.get("/analyst/drift.json?days=14&granularity=hour", headers=h["analyst"]).status_code == 200

