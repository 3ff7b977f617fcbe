"""The OWASP pass on the API: tokens die with their key, bad input gets a 422 that says why (never a 500),
bodies are bounded and read only after authentication, cookie posts must come from this site, every response
carries the security headers, failed sign-ins are throttled and logged, and the docs and metrics are closed
outside development."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scoring.store import Store
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, ORIGIN, TOKENS, add_keys, client, record, seed


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
    legacy = record("P-SPACE")  # stored before intake checked the pattern, which now refuses such a manifest
    legacy.decision.hub_id = "HAK MEILAN"
    seed(store, [legacy])
    listed = [hub["hub_id"] for hub in c.get("/api/hubs", headers=h["analyst"]).json()]
    assert HUB in listed and "HAK MEILAN" not in listed


def test_hourly_drift_over_a_long_period_is_refused_with_the_limit(api: tuple[TestClient, Any]) -> None:
    c, h = api
    r = c.get("/analyst/drift.json?days=181&granularity=hour", headers=h["analyst"])
    assert r.status_code == 422 and "at most 14 days of hour windows" in r.json()["detail"]
    assert c.get("/analyst/drift.json?days=14&granularity=hour", headers=h["analyst"]).status_code == 200



# --- bodies: bounded, and read only for a known caller -------------------------------------------------
def test_a_body_over_the_limit_is_refused_unread_with_413(store: Store, tmp_path: Path) -> None:
    headers = add_keys(store)
    settings = make_settings(tmp_path / "data", max_body_bytes=4096)
    with client(settings, store) as c:
        big = b'{"result": "clear", "note": "' + b"x" * 5000 + b'"}'
        declared = c.post("/api/parcels/P-X/outcome", content=big,
                          headers={**headers["admin"], "content-type": "application/json"})
        assert declared.status_code == 413 and "at most 4096" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they arrive
            yield big[:3000]
            yield big[3000:]

        streamed = c.post("/api/parcels/P-X/outcome", content=chunks(),
                          headers={**headers["admin"], "content-type": "application/json"})
        assert streamed.status_code == 413 and "over 4096" in streamed.json()["detail"]
        login = c.post("/login", data={"token": "x" * 5000}, headers=ORIGIN)
        assert login.status_code == 413


def test_a_large_api_body_from_an_unknown_caller_is_refused_before_it_is_read(api: tuple[TestClient, Any]) -> None:
    c, h = api
    body = b'{"entries": [' + b",".join([b'{"kind": "phone", "value": "13800138000"}'] * 600) + b"]}"
    assert len(body) > 16 * 1024
    anonymous = c.post("/api/admin/watchlist", content=body, headers={"content-type": "application/json"})
    assert anonymous.status_code == 401 and "signed-in caller" in anonymous.json()["detail"]
    forged = c.post("/api/admin/watchlist", content=body,
                    headers={"content-type": "application/json", "Authorization": "Bearer forged"})
    assert forged.status_code == 401 and "signed-in caller" in forged.json()["detail"]
    known = c.post("/api/admin/watchlist", content=body, headers={**h["admin"], "content-type": "application/json"})
    assert known.status_code == 200 and known.json()["changed"] == 1


# --- cookie posts come from this site; headers on every response --------------------------------------
def test_cookie_posts_need_this_sites_origin_and_bearer_calls_do_not(api: tuple[TestClient, Any]) -> None:
    c, h = api
    assert c.post("/login", data={"token": TOKENS["screener"]}).status_code == 403  # login CSRF too
    signed = c.post("/login", data={"token": TOKENS["screener"]}, headers=ORIGIN, follow_redirects=False)
    assert signed.status_code == 303
    claim = "/api/parcels/P-HIGH/claim"
    for forged in ({}, {"origin": "https://evil.example"}, {"origin": "null"},
                   {"referer": "https://evil.example/parcels"}):
        refused = c.post(claim, headers=forged)
        assert refused.status_code == 403 and "only post from this site" in refused.json()["detail"], forged
    assert c.post(claim, headers={"referer": "http://testserver/hubs/HAK-MEILAN/queue"}).status_code == 200
    c.cookies.clear()
    assert c.delete(claim, headers=h["screener"]).status_code == 204  # a bearer call: no Origin needed


def test_every_response_carries_the_security_headers(api: tuple[TestClient, Any]) -> None:
    c, h = api
    answers = [c.get("/livez"), c.get("/api/auth/me", headers=h["analyst"]), c.get("/api/auth/me"),
               c.get("/", headers={"accept": "text/html"}), c.get("/nowhere"),
               c.post("/api/parcels/P-HIGH/claim", headers={"cookie": "pg_session=x"})]
    for r in answers:
        policy = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self' 'nonce-" in policy, r.url
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
    page = c.get("/", headers={"accept": "text/html"})
    nonce = page.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert "onsubmit=" not in page.text and (f'nonce="{nonce}"' in page.text or "<script" not in page.text)


# --- failed sign-ins ----------------------------------------------------------------------------------
def test_failed_sign_ins_are_logged_without_the_secret_and_throttled(
        api: tuple[TestClient, Any], caplog: pytest.LogCaptureFixture) -> None:
    c, h = api
    caplog.set_level(logging.WARNING)
    for n in range(3):
        assert c.post("/login", data={"token": f"guess-{n}-secret"}, headers=ORIGIN).status_code == 401
    for n in range(2):
        assert c.get("/api/auth/me", headers={"Authorization": f"Bearer guess-{n}-bearer"}).status_code == 401
    throttled = c.get("/api/auth/me", headers=h["admin"])  # even a right key, while throttled
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert c.post("/login", data={"token": TOKENS["admin"]}, headers=ORIGIN).status_code == 429
    failures = [r for r in caplog.records if r.getMessage() == "sign-in failed"]
    assert len(failures) == 5 and failures[-1].__dict__["failures_last_minute"] == 5
    assert "secret" not in caplog.text and "bearer" not in caplog.text.lower().replace("sign-in", "")


# --- closed by default outside development ------------------------------------------------------------
def test_docs_and_metrics_are_closed_when_not_public(store: Store, tmp_path: Path) -> None:
    headers = add_keys(store)
    settings = make_settings(tmp_path / "data", api_docs_public=False, metrics_public=False)
    with client(settings, store) as c:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert c.get(path).status_code == 404, path
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=headers["screener"]).status_code == 403
        assert "parcelguard_queue_waiting" in c.get("/metrics", headers=headers["analyst"]).text
    with client(make_settings(tmp_path / "open"), store) as c:  # development: open
        assert c.get("/openapi.json").status_code == 200 and c.get("/metrics").status_code == 200
