"""What people see: risk as a rank in the hub's day (raw figures for analysts), hub-local labelled times, the
supervisor's backlog age and throughput, human validation messages, error pages inside the layout, a favicon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from models.manifest import Outcome
from scoring.api.risk import day_of, ordinal
from scoring.localtime import at_hub, zone_label
from scoring.store import Store
from scoring.store.rows import Hub
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, ORIGIN, TOKENS, add_keys, client, record, seed

NOW = datetime.now(UTC)


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    # 20 parcels accepted today at the hub: scores 0.01 … 0.20; the top three flagged and waiting.
    seed(store, [record(f"T-{i:02d}", score=i / 100, action="SCREEN" if i > 17 else "RELEASE",
                        accepted_at=(NOW - timedelta(minutes=30 - i)).isoformat()) for i in range(1, 21)])
    store.hubs.save(Hub(HUB, "Haikou Meilan", "Asia/Shanghai", 10), actor="test")
    headers = add_keys(store)
    with client(make_settings(tmp_path / "data"), store) as test_client:
        yield test_client, headers


def test_screeners_see_the_rank_in_the_hubs_day_and_analysts_also_the_raw_figures(
    api: tuple[TestClient, Any]
) -> None:
    c, h = api
    items = c.get(f"/api/hubs/{HUB}/queue", headers=h["screener"]).json()["items"]
    assert [i["risk"]["rank"] for i in items] == [1, 2, 3] and {i["risk"]["of"] for i in items} == {20}
    assert items[0]["risk"]["text"] == "1st highest of 20 today · 1.9× the hub's average"  # 0.20 / mean 0.105
    assert items[0]["high_risk"] and not items[1]["high_risk"]  # the top 1% of 20 is the first one
    assert all(i["score"] is None and i["propensity"] is None for i in items)
    analyst = c.get(f"/api/hubs/{HUB}/queue", headers=h["analyst"]).json()["items"]
    assert analyst[0]["score"] == pytest.approx(0.2) and analyst[0]["propensity"] == 1.0
    page = c.get("/parcels/T-19", headers=h["screener"]).text
    assert "2nd highest of 20 today" in page and "Selection probability" not in page
    assert "Selection probability" in c.get("/parcels/T-19", headers=h["analyst"]).text


def test_a_released_parcel_says_why_without_contradicting_its_rank(api: tuple[TestClient, Any], store: Store) -> None:
    """A parcel high in today's ranking can still be released: the cut-off comes from days of scores and the line's
    capacity, and the page says so rather than "its risk was below what capacity could take"."""
    c, h = api
    seed(store, [record("T-REL", score=0.195, action="RELEASE", reasons=[], accepted_at=NOW.isoformat())])
    page = c.get("/parcels/T-REL", headers=h["screener"]).text
    assert "2nd highest of 21 today" in page
    assert "Released: its score was below the hub's cut-off" in page and "capacity could take" not in page


def test_ordinals_and_hub_days() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    start, end = day_of(datetime(2026, 11, 27, 17, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))  # 01:00 on the 28th
    assert (start, end) == (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), datetime(2026, 11, 28, 16, 0, tzinfo=UTC))


def test_times_are_in_the_hubs_zone_and_say_so(api: tuple[TestClient, Any]) -> None:
    c, h = api
    at = datetime(2026, 11, 27, 6, 5, tzinfo=UTC)
    assert at_hub(at, ZoneInfo("Asia/Shanghai"), "time") == "14:05 CST (UTC+8)"
    assert at_hub(at) == "2026-11-27 06:05 UTC" and zone_label(ZoneInfo("Asia/Kolkata"), at) == "IST (UTC+5:30)"
    page = c.get("/parcels/T-19", headers=h["screener"]).text
    assert "CST (UTC+8)" in page and " UTC</" not in page
    assert c.get("/api/parcels/T-19", headers=h["screener"]).json()["time_zone"] == "Asia/Shanghai"
    queue = c.get(f"/hubs/{HUB}/queue", headers=h["screener"]).text
    assert '"Asia/Shanghai"' in queue and '"CST (UTC+8)"' in queue


def test_supervisors_see_the_backlogs_age_and_the_lines_throughput(api: tuple[TestClient, Any],
                                                                   store: Store) -> None:
    c, h = api
    store.outcomes.record(Outcome(parcel_id="T-20", screened_at=NOW, result="clear", source="xray"), actor="s")
    hubs = {row["hub_id"]: row for row in c.get("/api/hubs", headers=h["analyst"]).json()}
    meilan = hubs[HUB]
    assert meilan["screened_last_hour"] == 1 and meilan["capacity_per_hour"] == 10 and meilan["waiting"] == 2
    assert meilan["oldest_waiting_s"] is not None and meilan["oldest_waiting_s"] >= 0
    assert (meilan["name"], meilan["zone_label"]) == ("Haikou Meilan", "CST (UTC+8)")


def test_errors_speak_plainly_and_pages_keep_the_menu(api: tuple[TestClient, Any]) -> None:
    c, h = api
    bad = c.post("/api/admin/watchlist", json={"entries": [{"kind": "phone", "value": ""}]},
                 headers={**h["admin"], **ORIGIN})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("entries, item 1, value: must not be empty"), bad.json()
    c.cookies.set("pg_session", TOKENS["screener"])  # a key works as the sign-in cookie's value too
    missing = c.get("/parcels/NO-SUCH", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Sign out" in missing.text and f"/hubs/{HUB}/queue" in missing.text
    unknown = c.get("/no/such/page", headers={"accept": "text/html"})
    assert unknown.status_code == 404 and "Sign out" in unknown.text
    icon = c.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\0\0\1\0"  # an ICO file
