"""The screening API: who may do what, the queue, claims, outcomes and late labels, parcel views without
personal data, search, admin (keys, watch-list, capacity), audit, and error messages that say what to fix."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.manifest import Manifest, Reason
from scoring.rules import Rules, Watchlist
from scoring.store import Store
from tests.conftest import make_settings
from tests.factories import BASE
from tests.scoring.api_support import HASHER, HUB, ORIGIN, OTHER_HUB, TOKENS, add_keys, client, record, seed

RULE = [Reason(feature="rule", contribution=0.0, text="sender phone is on the watch-list")]
PERSONAL = [BASE["sender"][k] for k in ("name", "phone", "id_number")] + [BASE["recipient"][k] for k in
                                                                          ("name", "phone", "address")]


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    seed(store, [record("P-HIGH", score=0.8), record("P-LOW", score=0.1), record("P-RULE", why="rule", score=0.05,
                                                                                  reasons=RULE),
                 record("P-EXPLORE", why="exploration", score=0.01, reasons=[]),
                 record("P-REL", action="RELEASE", score=0.01, reasons=[]), record("Y-1", hub_id=OTHER_HUB)])
    headers = add_keys(store)
    settings = make_settings(tmp_path / "data", hub_capacity_per_hour={HUB: 40},
                             watchlist_path=tmp_path / "watch" / "watchlist.json")
    with client(settings, store) as test_client:
        yield test_client, headers


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["parcel_id"] for i in items]


# --- who may do what ----------------------------------------------------------------------------------
def test_callers_without_a_valid_key_are_told_how_to_authenticate(api: tuple[TestClient, Any]) -> None:
    c, _ = api
    missing = c.get(f"/api/hubs/{HUB}/queue")
    assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["detail"]
    unknown = c.get(f"/api/hubs/{HUB}/queue", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and "ask an admin" in unknown.json()["detail"]


def test_roles_and_hubs_limit_what_a_key_can_do(api: tuple[TestClient, Any]) -> None:
    c, h = api
    assert c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).status_code == 200
    other = c.get(f"/api/hubs/{OTHER_HUB}/queue", headers=h["screener"])
    assert other.status_code == 403 and f"works for hub {HUB}" in other.json()["detail"]
    assert c.get("/api/parcels/Y-1", headers=h["screener"]).status_code == 403
    hub = c.get(f"/api/hubs/{HUB}/queue", headers=h["hub"])
    assert hub.status_code == 403 and "needs screener or analyst or admin" in hub.json()["detail"]
    assert c.get(f"/api/hubs/{OTHER_HUB}/queue", headers=h["analyst"]).status_code == 200
    assert c.post("/api/parcels/P-HIGH/claim", headers=h["analyst"]).status_code == 403
    assert c.get("/api/admin/keys", headers=h["screener"]).status_code == 403
    assert c.get("/api/hubs", headers=h["screener"]).status_code == 403
    decision = c.get("/api/decisions/P-HIGH", headers=h["hub"])
    assert decision.status_code == 200 and decision.json()["action"] == "SCREEN"
    assert c.get("/api/decisions/Y-1", headers=h["hub"]).status_code == 403


def test_a_key_buys_a_bearer_token_that_dies_with_logout_or_the_key(api: tuple[TestClient, Any]) -> None:
    c, h = api
    issued = c.post("/api/auth/token", headers=h["screener"])
    assert issued.status_code == 200
    token = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert c.get("/api/auth/me", headers=token).json() == {"name": "screener-wang", "role": "screener", "hub_id": HUB}
    assert c.post("/api/auth/token", headers=token).status_code == 403  # tokens do not breed tokens
    assert c.post("/api/auth/logout", headers=token).status_code == 204
    assert c.get("/api/auth/me", headers=token).status_code == 401
    second = {"Authorization": f"Bearer {c.post('/api/auth/token', headers=h['screener2']).json()['access_token']}"}
    assert c.delete("/api/admin/keys/screener-li", headers=h["admin"]).status_code == 204
    assert c.get("/api/auth/me", headers=second).status_code == 401
    assert c.get("/api/auth/me", headers=h["screener2"]).status_code == 401


# --- the queue ----------------------------------------------------------------------------------------
def test_the_queue_puts_rule_hits_first_then_risk_and_says_why_in_words(api: tuple[TestClient, Any]) -> None:
    c, h = api
    q = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()
    assert ids(q["items"]) == ["P-RULE", "P-HIGH", "P-LOW", "P-EXPLORE"]  # no released parcel, no other hub
    first = q["items"][0]
    assert first["why_text"] == "Hard rule" and first["reasons"][0]["text"] == "sender phone is on the watch-list"
    assert q["items"][1]["reasons"][0]["text"].startswith("declared value")
    assert q["items"][1]["facts"]["description"] == "tea" and q["items"][1]["age_s"] >= 0
    assert q["waiting"] == 4 and q["held"] == 0 and q["flagged_this_hour"] == 4 and q["capacity_per_hour"] == 40
    assert q["capacity_used"] == pytest.approx(0.1)


def test_a_claimed_parcel_moves_to_its_holder_and_out_of_everyone_elses_queue(api: tuple[TestClient, Any]) -> None:
    c, h = api
    claimed = c.post(f"/api/hubs/{HUB}/claim-next", headers=h["screener"])
    assert claimed.status_code == 200 and claimed.json()["parcel"]["parcel_id"] == "P-RULE"
    mine = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()
    assert ids(mine["mine"]) == ["P-RULE"] and "P-RULE" not in ids(mine["items"]) and mine["held"] == 1
    theirs = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener2"]).json()
    assert theirs["mine"] == [] and "P-RULE" not in ids(theirs["items"])
    taken = c.post("/api/parcels/P-RULE/claim", headers=h["screener2"])
    assert taken.status_code == 409 and "held by screener-wang" in taken.json()["detail"]
    assert c.delete("/api/parcels/P-RULE/claim", headers=h["screener2"]).status_code == 409
    assert c.delete("/api/parcels/P-RULE/claim", headers=h["screener"]).status_code == 204
    assert c.post("/api/parcels/P-RULE/claim", headers=h["screener2"]).status_code == 200


def test_claim_next_on_an_empty_queue_says_so(api: tuple[TestClient, Any]) -> None:
    c, h = api
    for _ in range(4):
        assert c.post(f"/api/hubs/{HUB}/claim-next", headers=h["screener"]).status_code == 200
    empty = c.post(f"/api/hubs/{HUB}/claim-next", headers=h["screener"])
    assert empty.status_code == 404 and "queue is empty" in empty.json()["detail"]
    released = c.post("/api/parcels/P-REL/claim", headers=h["screener"])
    assert released.status_code == 409 and "released without screening" in released.json()["detail"]


# --- outcomes and late labels -------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "says"), [
    ({"result": "contraband"}, "contraband needs contraband_type"),
    ({"result": "clear", "contraband_type": "heroin"}, "a clear outcome takes no contraband_type"),
    ({"result": "contraband", "contraband_type": "chocolate"}, "contraband_type: must be one of: methamphetamine"),
    ({"result": "contraband", "contraband_type": "heroin", "quantity_g": -3}, "quantity_g: must be at least 0"),
    ({"result": "found"}, "result: must be one of: clear or contraband"),
    ({"result": "clear", "colour": "red"}, "colour: is not a field here: leave it out"),
    ({"result": "clear", "screened_at": "2026-01-01T10:00:00"}, "screened_at: needs its time zone"),
])
def test_a_bad_outcome_gets_a_422_that_names_the_field(api: tuple[TestClient, Any], body: dict[str, Any],
                                                       says: str) -> None:
    c, h = api
    response = c.post("/api/parcels/P-HIGH/outcome", json=body, headers=h["screener"])
    assert response.status_code == 422 and says in response.json()["detail"], response.json()


def test_an_outcome_in_the_future_is_refused(api: tuple[TestClient, Any]) -> None:
    c, h = api
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear", "screened_at": later},
                      headers=h["screener"])
    assert response.status_code == 422 and "in the future" in response.json()["detail"]


def test_recorded_contraband_leaves_the_queue_and_becomes_a_training_label(api: tuple[TestClient, Any],
                                                                          store: Store) -> None:
    c, h = api
    assert c.post("/api/parcels/P-HIGH/claim", headers=h["screener"]).status_code == 200
    blocked = c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear"}, headers=h["screener2"])
    assert blocked.status_code == 409 and "held by screener-wang" in blocked.json()["detail"]
    body = {"result": "contraband", "contraband_type": "methamphetamine", "quantity_g": 350, "note": "inside tea tins"}
    done = c.post("/api/parcels/P-HIGH/outcome", json=body, headers=h["screener"])
    assert done.status_code == 201
    assert done.json()["recorded_by"] == "screener-wang" and done.json()["contraband_type"] == "methamphetamine"
    q = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()
    assert "P-HIGH" not in ids(q["items"]) + ids(q["mine"]) and q["screened_this_hour"] == 1
    assert {r.parcel_id: r.label for r in store.reads.labelled_rows()}["P-HIGH"] is True
    again = c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear"}, headers=h["screener"])
    assert again.status_code == 409 and "late-label" in again.json()["detail"]
    assert c.post("/api/parcels/P-LOW/outcome", json={"result": "clear"}, headers=h["screener2"]).status_code == 201
    assert {r.parcel_id: r.label for r in store.reads.labelled_rows()}["P-LOW"] is False


def test_late_labels_reach_released_parcels_only_through_their_own_endpoint(api: tuple[TestClient, Any],
                                                                           store: Store) -> None:
    c, h = api
    wrong = c.post("/api/parcels/P-REL/outcome", json={"result": "clear"}, headers=h["screener"])
    assert wrong.status_code == 409 and "/api/parcels/P-REL/late-label" in wrong.json()["detail"]
    early = c.post("/api/parcels/P-HIGH/late-label", json={"contraband_type": "heroin"}, headers=h["analyst"])
    assert early.status_code == 409 and "still waiting" in early.json()["detail"]
    late = c.post("/api/parcels/P-REL/late-label", json={"contraband_type": "ketamine", "quantity_g": 80},
                  headers=h["analyst"])
    assert late.status_code == 201 and late.json()["source"] == "late"
    assert {r.parcel_id: r.label for r in store.reads.labelled_rows()}["P-REL"] is True
    assert c.post("/api/parcels/P-REL/late-label", json={"contraband_type": "heroin"},
                  headers=h["hub"]).status_code == 403
    history = c.get("/api/parcels/P-REL", headers=h["analyst"]).json()["history"]
    assert history[-1]["actor"] == "analyst-chen" and history[-1]["text"] == "late label: contraband: ketamine, 80 g"


# --- one parcel, personal data ------------------------------------------------------------------------
def test_a_parcel_shows_its_decision_explanation_and_history_of_actions(api: tuple[TestClient, Any]) -> None:
    c, h = api
    c.post("/api/parcels/P-HIGH/claim", headers=h["screener"])
    c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear"}, headers=h["screener"])
    view = c.get("/api/parcels/P-HIGH", headers=h["screener"]).json()
    assert view["action"] == "SCREEN" and view["status"] == "screened" and view["why_text"] == "Flagged by the model"
    assert view["reasons"][0]["text"].startswith("declared value")
    assert [(e["action"], e["actor"]) for e in view["history"]] == [
        ("decision", "scorer (model 1)"), ("claim", "screener-wang"), ("outcome", "screener-wang")]
    assert view["outcomes"][0]["result"] == "clear"
    missing = c.get("/api/parcels/NOPE-1", headers=h["screener"])
    assert missing.status_code == 404 and "check the waybill number" in missing.json()["detail"]


def test_personal_data_is_never_shown_and_hashes_only_to_analysts_and_admins(api: tuple[TestClient, Any]) -> None:
    c, h = api
    for role in ("screener", "hub", "analyst", "admin"):
        view = c.get("/api/parcels/P-HIGH", headers=h[role])
        assert not any(value in view.text for value in PERSONAL), role
        parties = view.json()["parties"]
        if role in ("analyst", "admin"):
            assert parties["sender_phone"] == HASHER("phone", BASE["sender"]["phone"])
        else:
            assert parties is None and '"h:' not in view.text
    queue = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).text
    assert not any(value in queue for value in PERSONAL) and '"h:' not in queue


def test_search_finds_parcels_by_the_start_of_their_number_within_the_callers_hub(api: tuple[TestClient, Any]) -> None:
    c, h = api
    assert ids(c.get("/api/search?q=P-", headers=h["screener"]).json()["hits"]) == [
        "P-EXPLORE", "P-HIGH", "P-LOW", "P-REL", "P-RULE"]
    assert c.get("/api/search?q=Y-", headers=h["screener"]).json()["hits"] == []
    assert ids(c.get("/api/search?q=Y-", headers=h["analyst"]).json()["hits"]) == ["Y-1"]
    bad = c.get("/api/search?q=P%25", headers=h["screener"])
    assert bad.status_code == 422 and bad.json()["detail"].startswith("q: may contain only letters, digits")


# --- admin ----------------------------------------------------------------------------------------------
def test_admins_issue_keys_shown_once_and_stored_hashed(api: tuple[TestClient, Any], store: Store) -> None:
    c, h = api
    no_hub = c.post("/api/admin/keys", json={"name": "zhou", "role": "screener"}, headers=h["admin"])
    assert no_hub.status_code == 422 and "a screener key needs hub_id" in no_hub.json()["detail"]
    issued = c.post("/api/admin/keys", json={"name": "zhou", "role": "screener", "hub_id": OTHER_HUB},
                    headers=h["admin"])
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert c.get(f"/api/hubs/{OTHER_HUB}/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert c.post("/api/admin/keys", json={"name": "zhou", "role": "analyst"}, headers=h["admin"]).status_code == 409
    listed = c.get("/api/admin/keys", headers=h["admin"])
    assert token not in listed.text and "token_hash" not in listed.text
    with store.engine.connect() as conn:
        from sqlalchemy import text

        assert token not in " ".join(str(r) for r in conn.execute(text("SELECT * FROM api_keys")))
    audit = c.get("/api/admin/audit?actor=admin-zhao", headers=h["admin"]).json()
    assert audit[0]["action"] == "add_api_key" and audit[0]["detail"]["name"] == "zhou"


def test_capacity_set_by_an_admin_shows_in_the_queue(api: tuple[TestClient, Any]) -> None:
    c, h = api
    assert c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": 8}, headers=h["admin"]).json()["source"] == "admin"
    q = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()
    assert q["capacity_per_hour"] == 8 and q["capacity_used"] == pytest.approx(0.5)
    bad = c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": 0}, headers=h["admin"])
    assert bad.status_code == 422 and "per_hour" in bad.json()["detail"]
    back = c.put(f"/api/admin/capacity/{HUB}", json={"per_hour": None}, headers=h["admin"]).json()
    assert back == {"hub_id": HUB, "per_hour": 40, "source": "configured", "configured": 40, "updated_by": None,
                    "updated_at": None}


def test_watch_list_edits_write_hashes_the_scorer_reads_and_never_the_value(
    api: tuple[TestClient, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c, h = api
    caplog.set_level(logging.DEBUG)
    phone = BASE["sender"]["phone"]
    added = c.post("/api/admin/watchlist", json={"entries": [{"kind": "phone", "value": phone, "note": "case 17"}]},
                   headers=h["admin"])
    assert added.status_code == 200 and added.json()["changed"] == 1
    path = tmp_path / "watch" / "watchlist.json"
    assert phone not in path.read_text() and phone not in caplog.text
    assert json.loads(path.read_text()) == [{"kind": "phone", "hash": HASHER("phone", phone), "note": "case 17"}]
    # The scorer's own reader, on the same file, now flags a parcel from that phone.
    rules = Rules(Watchlist(HASHER, path), prohibited_terms=[])
    hit = rules.check(Manifest.model_validate(BASE))
    assert hit is not None and hit.rule == "watchlist"
    shown = c.get("/api/admin/watchlist", headers=h["admin"]).json()
    assert shown["entries"] == [{"kind": "phone", "hash": HASHER("phone", phone), "note": "case 17"}]
    both = c.post("/api/admin/watchlist", json={"entries": [{"kind": "phone", "value": phone, "hash": "h:00aa00aa"}]},
                  headers=h["admin"])
    assert both.status_code == 422 and "exactly one of value" in both.json()["detail"]
    removed = c.post("/api/admin/watchlist/remove", json={"entries": [{"kind": "phone", "value": phone}]},
                     headers=h["admin"])
    assert removed.json()["changed"] == 1 and json.loads(path.read_text()) == []
    audit = c.get("/api/admin/audit?limit=2", headers=h["admin"]).text
    assert phone not in audit and "watchlist_remove" in audit


def test_watch_list_works_on_defaults_in_a_file_under_the_data_dir(store: Store, tmp_path: Path) -> None:
    headers = add_keys(store)
    settings = make_settings(tmp_path / "data")  # no PARCELGUARD_WATCHLIST_PATH
    assert settings.watchlist_path == (tmp_path / "data" / "watchlist.json").resolve()
    scorers_list = Watchlist(HASHER, settings.watchlist_path)  # a scorer started before the file exists
    with client(settings, store) as c:
        assert c.get("/api/admin/watchlist", headers=headers["admin"]).json()["entries"] == []
        phone = BASE["sender"]["phone"]
        added = c.post("/api/admin/watchlist", json={"entries": [{"kind": "phone", "value": phone}]},
                       headers=headers["admin"])
    assert added.status_code == 200 and added.json()["total"] == 1
    assert scorers_list.refresh() and scorers_list.hashes == {HASHER("phone", phone)}  # hot-reloaded


def test_notes_and_personal_values_stay_out_of_the_logs(api: tuple[TestClient, Any],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    c, h = api
    caplog.set_level(logging.DEBUG)
    c.post("/api/parcels/P-HIGH/claim", headers=h["screener"])
    note = "recipient Li Na 13900139000 came to the counter"
    c.post("/api/parcels/P-HIGH/outcome", json={"result": "clear", "note": note}, headers=h["screener"])
    c.post("/api/admin/watchlist", json={"entries": [{"kind": "name", "value": "Zhang Wei"}]}, headers=h["admin"])
    assert "13900139000" not in caplog.text and "Zhang Wei" not in caplog.text and "Li Na" not in caplog.text


# --- the pages' sign-in ---------------------------------------------------------------------------------
def test_signing_in_sets_a_session_cookie_not_the_key(api: tuple[TestClient, Any]) -> None:
    c, _ = api
    c.headers["accept"] = "text/html"  # as a browser navigating
    assert c.get(f"/hubs/{HUB}/queue", follow_redirects=False).headers["location"] == f"/?next=/hubs/{HUB}/queue"
    bad = c.post("/login", data={"token": "wrong"}, headers=ORIGIN)
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    signed = c.post("/login", data={"token": TOKENS["screener"], "next": "//evil.example/x"},
                    headers=ORIGIN, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == f"/hubs/{HUB}/queue"
    cookie = signed.cookies["pg_session"]
    assert cookie != TOKENS["screener"] and "httponly" in signed.headers["set-cookie"].lower()
    assert c.get(f"/hubs/{HUB}/queue").status_code == 200
    assert c.get(f"/api/hubs/{HUB}/queue").status_code == 200  # the pages call the API with the cookie
    forbidden = c.get(f"/hubs/{OTHER_HUB}/queue")
    assert forbidden.status_code == 403 and "<h1>Not allowed</h1>" in forbidden.text
    c.post("/logout", headers=ORIGIN)
    assert c.get(f"/api/hubs/{HUB}/queue", cookies={"pg_session": cookie}).status_code == 401


def test_the_openapi_document_declares_every_error_with_its_message_shape(api: tuple[TestClient, Any]) -> None:
    c, _ = api
    doc = c.get("/openapi.json").json()
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            assert op.get("summary"), (method, path)
            assert "401" in op["responses"], (method, path)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_text_the_database_cannot_store_is_a_4xx_not_a_crash(api: tuple[TestClient, Any]) -> None:
    """PostgreSQL refuses NUL characters in text (found by the schema property test); SQLite stores them."""
    c, h = api
    response = c.get("/api/admin/audit?actor=%00", headers=h["admin"])
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert "NUL" in response.json()["detail"]
    response = c.get("/api/search?q=4300%00", headers=h["admin"])
    assert response.status_code < 500
