"""Segment volumes: a surge against a segment's own history is told from its usual wobble, as of event time."""

from __future__ import annotations

import random

import pytest

from models.manifest import Manifest
from scoring import segments as segments_module
from scoring.policy import Choice, DecisionPolicy, PolicyConfig, uniform
from scoring.segments import SURGE_GAIN, SegmentVolumes, volume_segments
from tests.factories import manifest

DAY = 86400.0
T0 = 20_775 * DAY  # a UTC midnight in November 2026


def _feed(volumes: SegmentVolumes, key: str, per_day: float, days: range, rng: random.Random) -> None:
    for day in days:
        for _ in range(int(per_day) + (rng.random() < per_day % 1)):
            volumes.add((key,), T0 + (day + rng.random()) * DAY)


def test_a_rare_segment_that_jumps_to_a_few_a_day_surges_within_three_days() -> None:
    rng = random.Random(1)
    volumes = SegmentVolumes()
    _feed(volumes, "oca:liuzhou|documents|home", 0.3, range(14), rng)
    assert volumes.surge("oca:liuzhou|documents|home", T0 + 14 * DAY) == 0.0
    _feed(volumes, "oca:liuzhou|documents|home", 3.0, range(14, 17), rng)
    assert volumes.surge("oca:liuzhou|documents|home", T0 + 17 * DAY - 1) > 0.0


def test_a_big_segments_daily_wobble_and_a_steady_rare_one_never_surge() -> None:
    rng = random.Random(2)
    volumes = SegmentVolumes()
    for day in range(30):  # weekends at half volume, weekdays at 400 a day
        _feed(volumes, "oc:kunming|gift", 200 if day % 7 in (5, 6) else 400, range(day, day + 1), rng)
        _feed(volumes, "oca:a|b|c", 0.5, range(day, day + 1), rng)
        at = T0 + (day + 1) * DAY
        assert volumes.surge("oc:kunming|gift", at) == 0.0
        assert volumes.surge("oca:a|b|c", at) == 0.0


def test_nothing_surges_before_the_warm_up_and_a_segment_never_seen_is_no_surge() -> None:
    volumes = SegmentVolumes()
    for i in range(50):  # fifty parcels in the first hour: no history yet to compare with
        volumes.add(("oc:x|y",), T0 + i * 60)
    assert volumes.surge("oc:x|y", T0 + 3600) == 0.0
    assert volumes.surge("oc:never|seen", T0 + 10 * DAY) == 0.0


def test_volume_segments_add_the_hubs_mix_to_the_screening_segments() -> None:
    m = Manifest.model_validate(manifest(origin__city="Beihai", contents__category="Food",
                                         destination__address_type="business", hub_id="SYX-TIANYA"))
    assert volume_segments(m)[-1] == "hoc:syx-tianya|beihai|food"
    assert len(volume_segments(m)) == 4


def _route_after_it_opens(surge_gain: float, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, Choice]], int]:
    """2,000 parcels a day for 20 days, scored low like the bulk; the route runs at 0.3 a day, then 3 a day
    from day 14. The route's choices from day 15, and how many parcels exploration took in all."""
    monkeypatch.setattr(segments_module, "SURGE_GAIN", surge_gain)
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.05, exploration_share=0.1)
    policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
    rng = random.Random(3)
    common = ("oc:kunming|gift", "ca:gift|home", "oca:kunming|gift|home", "hoc:hub|kunming|gift")
    route = ("oc:liuzhou|documents", "ca:documents|home", "oca:liuzhou|documents|home", "hoc:hub|liuzhou|documents")
    route_choices, explored = [], 0
    for i in range(40_000):
        day = i // 2000
        on_route = rng.random() < (3.0 if day >= 14 else 0.3) / 2000
        keys = route if on_route else common
        choice = policy.choose(f"p{i}", "HUB", T0 + i * (DAY / 2000), rng.random() * 0.5, False, True, 1.0,
                               keys[:3], keys)
        explored += choice.why == "exploration"
        if day >= 15 and on_route:
            route_choices.append((f"p{i}", choice))
    return route_choices, explored


def test_exploration_goes_to_a_surging_segment_within_its_share_and_records_that_probability(
        monkeypatch: pytest.MonkeyPatch) -> None:
    route, explored = _route_after_it_opens(SURGE_GAIN, monkeypatch)
    unseen_only, explored_without = _route_after_it_opens(1.0, monkeypatch)
    mean = lambda cs: sum(c.propensity for _, c in cs) / len(cs)  # noqa: E731
    # Segment novelty alone draws a route parcel with a few percent; the surge makes it several times that ...
    assert mean(route) > 4 * mean(unseen_only)
    # ... exploration keeps its share of the budget ...
    assert abs(explored - explored_without) < 0.15 * explored_without
    # ... and the recorded propensity is the one the draw used, parcel by parcel.
    for pid, choice in route:
        assert (uniform("parcelguard", pid) < choice.propensity) == (choice.why == "exploration")
    assert sum(c.why == "exploration" for _, c in route) >= 2
