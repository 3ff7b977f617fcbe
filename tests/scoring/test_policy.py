"""The decision policy on its own: capacity tracking, rules never starved, exploration propensities, scope."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from models.manifest import Manifest
from models.pii import Hasher
from scoring import policy as policy_module
from scoring import segments as segments_module
from scoring.policy import (
    Choice,
    DecisionPolicy,
    PolicyConfig,
    ScoreWindow,
    novelty,
    uniform,
)
from scoring.rules import Rules, Watchlist, WatchlistError, add_entries, remove_entries
from scoring.segments import SegmentScreenings, segments
from tests.factories import manifest

HOUR = 3600.0
T0 = 1_795_000_000 // 3600 * 3600  # an hour boundary in November 2026


def _run_hours(policy: DecisionPolicy, hours: Sequence[tuple[int, tuple[float, float], float]],
               seed: int = 3) -> list[dict[str, int]]:
    """Feed each hour (volume, Beta score parameters, rule-hit rate); count flags per hour and kind."""
    rng = random.Random(seed)
    out = []
    for h, (volume, (a, b), rule_rate) in enumerate(hours):
        counts = {"volume": volume, "flagged": 0, "rules": 0, "rules_flagged": 0}
        for i, at in enumerate(sorted(rng.uniform(0, HOUR) for _ in range(volume))):
            rule = rng.random() < rule_rate
            choice = policy.choose(f"p{h}-{i}", "HUB", T0 + h * HOUR + at, rng.betavariate(a, b), rule, True)
            counts["flagged"] += choice.action == "SCREEN"
            counts["rules"] += rule
            counts["rules_flagged"] += rule and choice.action == "SCREEN"
        out.append(counts)
    return out


def test_flag_rate_tracks_capacity_over_the_day_as_volume_and_score_distribution_change() -> None:
    config = PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 120}, exploration_share=0.1)
    policy = DecisionPolicy(config, [random.Random(0).betavariate(1, 20) for _ in range(2000)])
    # Volume swings 8x through a day; half-way, the model's scores shift sharply upwards.
    hours = [(int(1500 + 1200 * math.sin(h / 24 * 2 * math.pi)), (1, 20) if h < 12 else (3, 6), 0.004)
             for h in range(72)]
    result = _run_hours(policy, hours)
    burst = config.burst_hours * 120
    for day in (result[24:48], result[48:]):  # once the hub's volume profile is known
        flagged = sum(c["flagged"] - c["rules_flagged"] for c in day)
        assert 0.75 * 24 * 120 <= flagged <= 24 * 120 + burst / 2, flagged
    last = sum(c["flagged"] - c["rules_flagged"] for c in result[48:])  # settled after the shift
    assert 0.9 * 24 * 120 <= last <= 1.1 * 24 * 120, last
    # The line never takes more than its capacity plus what the queue carried forward ...
    for h, counts in enumerate(result):
        assert counts["flagged"] - counts["rules_flagged"] <= 120 + burst, (h, counts)
    # ... and any run of hours flags at most their capacity plus one burst.
    for length in (3, 6, 12):
        for h in range(len(result) - length):
            window = sum(c["flagged"] - c["rules_flagged"] for c in result[h:h + length])
            assert window <= length * 120 + burst, (h, length, window)
    # A fixed cut-off would have flagged several times capacity for ever after the score shift.
    assert sum(c["flagged"] for c in result[24:]) < 1.1 * 48 * 120


def test_capacity_unused_in_quiet_hours_carries_forward_to_a_busy_hour() -> None:
    """An X-ray line has a queue: a burst of high-risk parcels after quiet hours is not cut off at one hour's
    capacity (per-hour pacing would flag 10 of these 40), yet never beyond the bucket."""
    config = PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 10}, exploration_share=0.0)
    rng = random.Random(2)
    policy = DecisionPolicy(config, [rng.random() * 0.5 for _ in range(2000)])
    for h in range(12):  # quiet, ordinary hours: 200 parcels scoring low
        for i in range(200):
            policy.choose(f"q{h}-{i}", "HUB", T0 + h * HOUR + i * 15, rng.random() * 0.5, False, True)
    budget = policy.budget("HUB")
    carried = budget.tokens
    assert carried is not None and carried > 10  # the quiet hours left capacity unused
    busy = [policy.choose(f"b{i}", "HUB", T0 + 12 * HOUR + i * 30, 0.99, False, True) for i in range(40)]
    taken = sum(c.action == "SCREEN" for c in busy)
    assert 10 < taken <= carried + 10 * 40 * 30 / HOUR + 1
    assert taken <= config.burst_hours * 10 + 10


def test_without_hub_capacity_the_share_of_in_scope_parcels_is_flagged() -> None:
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.05, exploration_share=0.1)
    # Volume and the score distribution change every hour: the share holds over the day and a half.
    hours = [(2000, (1, 20), 0.0), (800, (1, 20), 0.0), (3000, (2, 5), 0.0)] * 12
    result = _run_hours(DecisionPolicy(config), hours)
    volume, flagged = sum(c["volume"] for c in result), sum(c["flagged"] for c in result)
    assert 0.045 * volume <= flagged <= 0.055 * volume, (flagged, volume)


def test_rule_hits_are_always_flagged_even_past_capacity() -> None:
    config = PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 20})
    result = _run_hours(DecisionPolicy(config), [(1000, (1, 20), 0.05)] * 3)
    for counts in result:
        assert counts["rules"] > 20 and counts["rules_flagged"] == counts["rules"]
        assert counts["flagged"] - counts["rules_flagged"] <= 20  # the model and exploration stop at capacity


def test_fail_safe_screens_every_in_scope_parcel() -> None:
    policy = DecisionPolicy(PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 1}))
    choices = [policy.choose(f"p{i}", "HUB", T0 + i, None, False, model_ready=False) for i in range(50)]
    assert {(c.action, c.why, c.propensity) for c in choices} == {("SCREEN", "fail_safe", 1.0)}


def test_exploration_propensities_are_the_probabilities_used() -> None:
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.1, exploration_share=0.3)
    policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
    rng = random.Random(5)
    explored, released = [], []
    for i in range(20000):
        choice = policy.choose(f"x{i}", "HUB", T0 + i * 0.5, rng.random(), False, True)
        if choice.why == "exploration":
            explored.append(choice)
        elif choice.action == "RELEASE":
            released.append((f"x{i}", choice))
        else:
            assert choice.propensity == 1.0  # taken by the model: chosen for sure
    assert explored and all(0 < c.propensity < 1 for c in explored)
    # A released parcel records the probability it had of being explored; its draw was above that.
    assert all(uniform(config.seed, pid) >= c.propensity for pid, c in released)
    # The recorded probabilities are honest: their sum over non-model parcels predicts the explored count.
    expected = sum(c.propensity for c in explored) + sum(c.propensity for _, c in released)
    assert abs(len(explored) - expected) < 4 * math.sqrt(expected)
    # Exploration is about its configured share (30%) of what is flagged.
    model = 20000 - len(explored) - len(released)
    assert 0.2 < len(explored) / (len(explored) + model) < 0.4


def test_replays_explore_the_same_parcels() -> None:
    assert uniform("s", "JT1") == uniform("s", "JT1") != uniform("s", "JT2")


def test_late_parcels_do_not_reset_the_hour_or_refill_the_bucket() -> None:
    policy = DecisionPolicy(PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 10}))
    for i in range(30):
        policy.choose(f"a{i}", "HUB", T0 + HOUR + 60 * i, 0.9, False, True)
    budget = policy.budget("HUB")
    tokens = budget.tokens
    policy.choose("late", "HUB", T0 + 10, 0.0, False, True)  # from the hour before, scored too low to flag
    assert budget.in_hour == 31 and budget.hour == int((T0 + HOUR) // HOUR)
    assert budget.tokens == tokens  # event time did not move forward: no capacity was added


def test_exploration_leans_towards_higher_scores_and_records_that_probability() -> None:
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.1, exploration_share=0.3)
    policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
    rng = random.Random(9)
    low: list[Choice] = []
    high: list[Choice] = []
    for i in range(20000):
        score = rng.random()
        choice = policy.choose(f"y{i}", "HUB", T0 + i * 0.5, score, False, True)
        taken_by_model = choice.action == "SCREEN" and choice.why == "model"
        if not taken_by_model and choice.propensity > 0:
            (low if score < 0.3 else high if 0.7 < score < 0.85 else []).append(choice)
        elif choice.action == "RELEASE" and choice.propensity == 0:
            assert policy.budget("HUB").at_capacity()  # only a full line stops exploring altogether
    mean = lambda cs: sum(c.propensity for c in cs) / len(cs)  # noqa: E731
    assert len(low) > 4000 and len(high) > 2000  # the floor: low scores are explored too
    assert mean(high) > 3 * mean(low)
    # The realised exploration rate in each band matches the recorded propensities.
    for band in (low, high):
        explored = sum(c.why == "exploration" for c in band)
        expected = sum(c.propensity for c in band)
        assert abs(explored - expected) < 4 * math.sqrt(expected) + 2, (explored, expected)


def test_novel_parcels_are_explored_more_within_the_same_share_and_record_that_probability(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(policy_module, "NOVELTY_GAIN", 4.0)
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.1, exploration_share=0.3)

    def run(with_novelty: bool) -> tuple[list[tuple[str, Choice, bool]], int]:
        policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
        rng = random.Random(11)
        seen, explored = [], 0
        for i in range(30000):
            score, unknown = rng.random(), rng.random() < 0.2  # a fifth of the parcels: parties never screened
            weight = novelty(0.0 if unknown else 6.0) if with_novelty else 1.0
            choice = policy.choose(f"n{i}", "HUB", T0 + i * 0.5, score, False, True, weight)
            explored += choice.why == "exploration"
            if not (choice.action == "SCREEN" and choice.why == "model") and 0.2 < score < 0.6:
                seen.append((f"n{i}", choice, unknown))
        return seen, explored

    seen, explored = run(with_novelty=True)
    _, explored_without = run(with_novelty=False)
    mean = lambda cs: sum(c.propensity for c in cs) / len(cs)  # noqa: E731
    unknown = [c for _, c, u in seen if u]
    known = [c for _, c, u in seen if not u]
    # The same score band: parties nobody has screened are drawn about (1 + 4) / (1 + 4/7) times as often.
    assert 2.5 < mean(unknown) / mean(known) < 4.0
    # ... yet exploration keeps its share of the budget: the weight is normalised by its running mean.
    assert abs(explored - explored_without) < 0.1 * explored_without
    _assert_propensities_are_the_draws(config, seen, (unknown, known))


def test_a_fresh_policy_keeps_exploration_to_its_share_from_its_first_parcels() -> None:
    """A scorer starts afresh on every restart: when every parcel is novel, its first parcels must not be explored
    at the novelty's full weight while the running mean of the weights is still catching up."""
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.1, exploration_share=0.3)

    def explored(novelty_weight: float) -> int:
        policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
        rng = random.Random(5)
        return sum(policy.choose(f"f{i}", "HUB", T0 + i * 2.0, rng.random(), False, True, novelty_weight).why
                   == "exploration" for i in range(1500))

    plain, novel = explored(1.0), explored(5.0)
    assert plain > 20  # about 0.1 x 0.3 of 1,500 parcels
    assert abs(novel - plain) < 0.25 * plain, (novel, plain)


def _assert_propensities_are_the_draws(config: PolicyConfig, seen: list[tuple[str, Choice, bool]],
                                       bands: tuple[list[Choice], ...]) -> None:
    """The recorded probability is the one the draw used, parcel by parcel, and predicts the explored count."""
    for pid, choice, _ in seen:
        assert (uniform(config.seed, pid) < choice.propensity) == (choice.why == "exploration")
    for band in bands:
        drawn, expected = sum(c.why == "exploration" for c in band), sum(c.propensity for c in band)
        assert abs(drawn - expected) < 4 * math.sqrt(expected) + 2, (drawn, expected)


def test_novelty_falls_as_screenings_of_the_parties_accumulate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "NOVELTY_GAIN", 3.0)
    assert novelty(0.0) == novelty(math.nan) == 4.0
    assert novelty(0.0) > novelty(1.0) > novelty(10.0) > 1.0


def _explore_by_segment(mode: str) -> tuple[list[tuple[str, Choice, bool]], int, PolicyConfig]:
    """30,000 parcels, one in a hundred in a segment the model never takes (a new route the model scores
    low): their choices in a middling score band."""
    config = PolicyConfig.build(["*"], ["*"], capacity_share=0.1, exploration_share=0.3, exploration=mode)
    policy = DecisionPolicy(config, [i / 1000 for i in range(1000)])
    rng = random.Random(5)
    # The common segment is screened often (the model takes its high scores); the rare one only by exploration.
    common, rare = ("oc:kunming|gift", "ca:gift|home", "oca:kunming|gift|home"), ("oc:liuzhou|documents",
                                                                                "ca:documents|home",
                                                                                "oca:liuzhou|documents|home")
    seen, explored = [], 0
    for i in range(30000):
        odd = rng.random() < 0.01
        score = rng.random() * (0.6 if odd else 1.0)
        choice = policy.choose(f"s{i}", "HUB", T0 + i * 0.5, score, False, True, 1.0, rare if odd else common)
        explored += choice.why == "exploration"
        if not (choice.action == "SCREEN" and choice.why == "model") and 0.2 < score < 0.6:
            seen.append((f"s{i}", choice, odd))
    return seen, explored, config


def test_exploration_leans_to_segments_screening_has_seen_least_and_records_that_probability() -> None:
    seen, explored, config = _explore_by_segment("segments")
    seen_score, explored_score, _ = _explore_by_segment("score")
    mean = lambda cs: sum(c.propensity for c in cs) / len(cs)  # noqa: E731
    rare = [c for _, c, odd in seen if odd]
    common = [c for _, c, odd in seen if not odd]
    # Same score band: the rarely screened segment is drawn clearly more often than the common one ...
    assert mean(rare) > 1.8 * mean(common)
    # ... which the score-weighted mode does not do ...
    rare_s = [c for _, c, odd in seen_score if odd]
    common_s = [c for _, c, odd in seen_score if not odd]
    assert 0.8 < mean(rare_s) / mean(common_s) < 1.25
    # ... and exploration keeps its share of the budget either way.
    assert abs(explored - explored_score) < 0.1 * explored_score
    _assert_propensities_are_the_draws(config, seen, (rare, common))


def test_segment_screenings_count_as_of_time_and_fade() -> None:
    counts = SegmentScreenings()
    keys = ("oc:a|b", "ca:b|c", "oca:a|b|c")
    assert counts.novelty(keys, T0) == 1.0 + segments_module.SEGMENT_GAIN
    counts.screened(keys, T0)
    counts.screened(keys[:2], T0)  # the triple is the least seen segment: it decides
    assert counts.seen("oc:a|b", T0) == 2.0
    assert counts.novelty(keys, T0) == 1.0 + segments_module.SEGMENT_GAIN / math.sqrt(2.0)
    # A half-life later the screenings count half: a segment left alone is worth exploring again.
    assert counts.seen("oc:a|b", T0 + segments_module.SEGMENT_HALF_LIFE_S) == pytest.approx(1.0)
    assert counts.novelty((), T0) == 1.0


def test_segments_of_a_manifest_are_city_category_and_address_type() -> None:
    m = Manifest.model_validate(manifest(origin__city="Liuzhou", contents__category="Documents",
                                         destination__address_type="home"))
    assert segments(m) == ("oc:liuzhou|documents", "ca:documents|home", "oca:liuzhou|documents|home")


def test_only_flagged_parcels_count_as_screenings_of_their_segments() -> None:
    policy = DecisionPolicy(PolicyConfig.build(["*"], ["*"], exploration_share=0.0), [i / 100 for i in range(100)])
    keys = ("oc:x|y",)
    released = policy.choose("r1", "HUB", T0, 0.01, False, True, 1.0, keys)
    flagged = policy.choose("r2", "HUB", T0 + 1, 0.0, True, True, 1.0, keys)  # a rule hit
    assert released.action == "RELEASE" and flagged.action == "SCREEN"
    assert policy.segments.seen("oc:x|y", T0 + 1) == 1.0


def test_an_unknown_exploration_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="exploration must be one of"):
        PolicyConfig.build(["*"], ["*"], exploration="curiosity")


def test_capacity_is_shared_out_between_scorers() -> None:
    config = PolicyConfig.build(["*"], ["*"], hub_capacity_per_hour={"HUB": 100})
    reference = random.Random(1)
    policy = DecisionPolicy(config, [reference.random() for _ in range(1000)])
    policy.set_capacity_fraction(0.5)  # this scorer owns half the partitions, so half the traffic
    result = _run_hours(policy, [(1000, (1, 1), 0.0)] * 12)
    assert 0.9 * 50 * 12 <= sum(c["flagged"] for c in result) <= 1.05 * 50 * 12 + config.burst_hours * 50 / 2, result
    assert policy.budget("HUB").burst() == config.burst_hours * 50  # the queue's room is halved too


def test_score_window_quantile() -> None:
    window = ScoreWindow(size=100, initial=[i / 100 for i in range(200)])
    assert len(window) == 100
    assert window.upper_quantile(0.1) == pytest.approx(1.9)
    assert window.upper_quantile(0.0) == math.inf and window.upper_quantile(1.0) == -math.inf


@pytest.mark.parametrize(("origins", "destinations", "expected"), [
    (["Yunnan"], ["Hainan"], True),          # province
    (["Kunming"], ["Hainan"], True),         # city
    (["Guangdong"], ["Hainan"], False),
    (["*"], ["Haikou"], True),               # destination city
    (["yunnan "], ["*"], True),              # case and spacing do not matter
])
def test_scope_by_province_or_city(origins: list[str], destinations: list[str], expected: bool) -> None:
    m = Manifest.model_validate(manifest())
    config = PolicyConfig.build(origins, destinations)
    assert config.in_scope(m) is expected


# --- hard rules ------------------------------------------------------------------------------------

def test_prohibited_declarations_hit_as_whole_words() -> None:
    rules = Rules(Watchlist(Hasher("k")), ["meth", "冰毒"])
    assert rules.check(Manifest.model_validate(manifest(contents__description="Meth crystals"))) is not None
    assert rules.check(Manifest.model_validate(manifest(contents__description="methodology book"))) is None
    assert rules.check(Manifest.model_validate(manifest(contents__description="冰毒样品"))) is not None


def test_watch_list_matches_hashes_and_reloads_without_restart(tmp_path: Path) -> None:
    hasher = Hasher("k")
    path = tmp_path / "watchlist.json"
    watchlist = Watchlist(hasher, path)
    rules = Rules(watchlist, [])
    parcel = Manifest.model_validate(manifest(recipient__phone="139-0013-9000"))
    assert rules.check(parcel) is None

    add_entries(path, hasher, [{"kind": "phone", "value": "13900139000", "note": "case 17"}])
    assert "13900139000" not in path.read_text()  # only keyed hashes reach the file
    assert watchlist.refresh()
    hit = rules.check(parcel)
    assert hit is not None and hit.rule == "watchlist" and "recipient phone" in hit.text

    assert remove_entries(path, hasher, [{"kind": "phone", "value": "13900139000"}]) == 1
    assert watchlist.refresh() and rules.check(parcel) is None


def test_a_bad_watch_list_file_keeps_the_list_in_force_and_says_so(tmp_path: Path) -> None:
    hasher = Hasher("k")
    path = tmp_path / "watchlist.json"
    add_entries(path, hasher, [{"kind": "account_id", "value": "ACC-1"}])
    watchlist = Watchlist(hasher, path)
    assert len(watchlist.hashes) == 1
    path.write_text('[{"kind": "shoe size", "value": "42"}]')
    assert not watchlist.refresh()
    assert len(watchlist.hashes) == 1 and watchlist.last_error and "shoe size" in watchlist.last_error
    with pytest.raises(WatchlistError):  # at start, a bad file is fatal: scoring without the rules is not safe
        Watchlist(hasher, path)
