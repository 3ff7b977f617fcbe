"""The demo room's parts on their own: the clock's capacities, the resumable feed, the stations and the keys."""

from __future__ import annotations

import datetime as dt
import json
import stat
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from parcelguard.demo import clock as demo_clock
from parcelguard.demo.feed import CHINA, FeedCursor, LiveFeed, TruthBook
from parcelguard.demo.keys import ensure_keys
from parcelguard.demo.stations import XrayStation
from scoring.store import Store
from tests.scoring.api_support import HUB, OTHER_HUB, record, seed
from training.world.generate import WorldConfig

WORLD = WorldConfig(days=40, parcels_per_day=600)


def _feed(tmp_path: Path, stop: threading.Event | None = None) -> LiveFeed:
    # A speed so high that every wait is far below a millisecond: the feed's order, not its pace, is tested here.
    clock = demo_clock.DemoClock(speed=1e9, parcels_per_day=WORLD.parcels_per_day)
    return LiveFeed(WORLD, history_days=2, clock=clock, cursor=FeedCursor(tmp_path / "cursor.json"),
                    truth=TruthBook(tmp_path / "truth.txt"), stop=stop or threading.Event())


def _take(feed: LiveFeed, n: int) -> list[dict[str, Any]]:
    items: Iterator[dict[str, Any]] = iter(feed)
    taken = list(islice(items, n))
    items.close()  # type: ignore[attr-defined]  # as publish does when told to stop: the cursor is saved
    return taken


def test_a_restarted_feed_continues_with_parcels_it_never_sent(tmp_path: Path) -> None:
    first = _take(_feed(tmp_path), 120)
    second = _take(_feed(tmp_path), 120)
    first_ids, second_ids = {m["parcel_id"] for m in first}, {m["parcel_id"] for m in second}
    assert len(first_ids) == 120 and len(second_ids) == 120
    assert not first_ids & second_ids
    assert json.loads((tmp_path / "cursor.json").read_text())["taken"] >= 240


def test_the_feed_stamps_the_wall_clock_and_stops_when_asked(tmp_path: Path) -> None:
    stop = threading.Event()
    feed = _feed(tmp_path, stop)
    items = iter(feed)
    manifest = next(items)
    accepted = dt.datetime.fromisoformat(manifest["accepted_at"])
    assert abs((dt.datetime.now(CHINA) - accepted).total_seconds()) < 3600  # now, not the world's October
    stop.set()
    assert list(items) == []


def test_truth_is_kept_across_restarts(tmp_path: Path) -> None:
    book = TruthBook(tmp_path / "truth.txt")
    book.note("P-BAD", True)
    book.note("P-OK", False)
    again = TruthBook(tmp_path / "truth.txt")
    assert again.is_contraband("P-BAD") and not again.is_contraband("P-OK")


def test_capacities_follow_the_clock() -> None:
    per_day = {"A": 1200, "B": 10}
    assert demo_clock.hub_capacities(per_day, 0.05, 1) == {"A": 3, "B": 1}  # 50 an hour, 5%: 2.5, up to 3
    assert demo_clock.hub_capacities(per_day, 0.05, 60) == {"A": 150, "B": 2}
    with pytest.raises(demo_clock.DemoSettingsError):
        demo_clock.DemoClock(speed=0, parcels_per_day=10)


def test_a_station_screens_the_highest_risk_parcel_and_says_it_is_simulated(store: Store, tmp_path: Path) -> None:
    seed(store, [record("P-LOW", score=0.1), record("P-HIGH", score=0.9), record("Y-1", hub_id=OTHER_HUB)])
    truth = TruthBook(tmp_path / "truth.txt")
    truth.note("P-HIGH", True)
    station = XrayStation(store, HUB, capacity_per_hour=3600, truth=truth, stop=threading.Event())
    assert station.screen_next() and station.screen_next() and not station.screen_next()  # never another hub's
    high, low = store.outcomes.for_parcel("P-HIGH"), store.outcomes.for_parcel("P-LOW")
    assert [(o.result, o.source, o.recorded_by) for o in high] == [("contraband", "xray", f"sim-xray-{HUB}")]
    assert [o.result for o in low] == ["clear"] and all("simulated" in (o.note or "") for o in high + low)
    assert store.outcomes.for_parcel("Y-1") == []
    assert (station.counts.screened, station.counts.contraband) == (2, 1)


def test_hub_keys_are_random_kept_and_replaced_once_revoked(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "demo-keys.json"
    keys = ensure_keys(store, path, [HUB, OTHER_HUB])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    by_name = {k.name: k for k in keys}
    screeners = [k for k in keys if k.role == "screener"]
    assert len({k.key for k in screeners}) == 2 and not any(k.hub_id and k.hub_id in k.key for k in screeners)
    assert {k.role for k in keys} == {"screener", "analyst", "admin"}
    for key in keys:
        holder = store.access.principal(key.key)
        assert holder is not None and (holder.name, holder.role, holder.hub_id) == (key.name, key.role, key.hub_id)
    assert ensure_keys(store, path, [HUB, OTHER_HUB]) == keys  # a restart prints the same keys
    store.access.revoke_key(f"demo-screener-{HUB}", actor="admin")
    renewed = {k.name: k for k in ensure_keys(store, path, [HUB, OTHER_HUB])}
    assert renewed[f"demo-screener-{HUB}"].key != by_name[f"demo-screener-{HUB}"].key  # revoked stays revoked
    assert renewed["demo-admin"] == by_name["demo-admin"]


def test_retraining_waits_for_enough_new_labels_and_says_so(store: Store, tmp_path: Path) -> None:
    from parcelguard.demo.retraining import history_files, retrain_loop
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data")
    stop, said = threading.Event(), []

    def say(line: str) -> None:
        said.append(line)
        stop.set()

    retrain_loop(settings, store, every_s=0.01, min_new_labels=10, stop=stop, say=say)
    assert said == ["retraining skipped: 0 new label(s), 10 needed"]
    assert history_files(settings.data_dir) is None
