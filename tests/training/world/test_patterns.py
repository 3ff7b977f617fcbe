"""Kinds of new pattern: each changes nothing before its day, marks its parcels in the truth, and is the
surprise it says it is (a combination route, a new cover, faster rotation, a hub whose mix shifts)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from training.world.generate import WorldConfig, generate
from training.world.patterns import PATTERN_KINDS, plan
from training.world.tables import RINGS

DAY = 4
BASE = WorldConfig(days=10, parcels_per_day=3000, seed=3)
Rows = list[tuple[dict[str, Any], dict[str, Any]]]


@pytest.fixture(scope="module")
def worlds() -> dict[str | None, Rows]:
    found: dict[str | None, Rows] = {None: list(generate(BASE))}
    for kind in PATTERN_KINDS:
        config = WorldConfig(days=BASE.days, parcels_per_day=BASE.parcels_per_day, seed=BASE.seed,
                             new_pattern_day=DAY, pattern=kind)
        found[kind] = list(generate(config))
    return found


def _novel(rows: Rows) -> Rows:
    return [(m, t) for m, t in rows if t["new_pattern"]]


def test_the_original_world_is_unchanged_when_no_kind_is_chosen(worlds: dict[str | None, Rows]) -> None:
    legacy = list(generate(WorldConfig(days=BASE.days, parcels_per_day=BASE.parcels_per_day, seed=BASE.seed,
                                       new_pattern_day=DAY)))
    ring = worlds["ring"]
    # The "ring" kind is the original surprise: the same manifests, the truth only gains its marks.
    assert [m for m, _ in legacy] == [m for m, _ in ring]
    assert all("new_pattern" not in t for _, t in legacy)
    assert [t for _, t in legacy] == [{k: v for k, v in t.items() if k != "new_pattern"} for _, t in ring]
    assert all("new_pattern" not in t for _, t in worlds[None])


@pytest.mark.parametrize("kind", PATTERN_KINDS)
def test_every_kind_leaves_the_days_before_it_alone_and_marks_its_parcels(
    worlds: dict[str | None, Rows], kind: str,
) -> None:
    rows = worlds[kind]
    before = [(m, {k: v for k, v in t.items() if k != "new_pattern"}) for m, t in rows if t["day"] < DAY]
    assert before == [(m, t) for m, t in worlds[None] if t["day"] < DAY]
    novel = _novel(rows)
    assert len(novel) >= 5
    assert min(t["day"] for _, t in novel) == DAY
    assert {t["new_pattern"] for _, t in novel} == {kind}
    assert {t["pattern"] for _, t in novel} == set(plan(kind).novel)
    assert all(t["new_pattern"] is None for _, t in rows if t["pattern"] not in plan(kind).novel)
    # A new pattern is contraband that a perfect ranking would want: well above the benign level.
    assert sum(t["p"] for _, t in novel) / len(novel) > 0.2


def test_a_combination_route_is_one_city_one_category_one_address_type(worlds: dict[str | None, Rows]) -> None:
    novel = _novel(worlds["route"])
    assert {m["origin"]["city"] for m, _ in novel} == {"Liuzhou"}
    assert {m["destination"]["address_type"] for m, _ in novel} == {"home"}
    assert sum(m["contents"]["category"] == "documents" for m, _ in novel) >= 0.7 * len(novel)
    # None of the three was a ring's before: the old rings never shipped from there, as that, to there.
    old = [(m, t) for m, t in worlds[None] if t["pattern"] not in ("benign", "diffuse")]
    assert not any(m["origin"]["city"] == "Liuzhou" or m["contents"]["category"] == "documents" for m, _ in old)


def test_a_new_cover_keeps_the_route_and_changes_the_declaration(worlds: dict[str | None, Rows]) -> None:
    rows = worlds["cover"]
    novel = _novel(rows)
    assert {m["contents"]["description"] for m, _ in novel} <= {"books", "textbooks", "magazines"}
    cities = {"Kunming", "Pu'er", "Jinghong", "Dali"}  # the switched tea ring's route
    assert {m["origin"]["city"] for m, _ in novel} <= cities
    # The larger tea ring no longer ships tea after the switch: only the smaller one does.
    def tea_after(rows: Rows) -> int:
        return sum(t["pattern"] == "yunnan_tea" and t["day"] >= DAY for _, t in rows)

    assert tea_after(rows) < tea_after(worlds[None])


def test_a_rotating_ring_burns_its_identities_within_a_few_parcels(worlds: dict[str | None, Rows]) -> None:
    novel = _novel(worlds["rotation"])
    per_account = Counter(m["sender"]["account_id"] for m, _ in novel)
    assert max(per_account.values()) <= 3
    assert len(per_account) >= len(novel) / 3
    # The same ring kept each front for 8 to 20 parcels before.
    assert RINGS[3].pattern == "precursor_sample" and RINGS[3].uses[0] > plan("rotation").switches[3].uses[1]


def test_a_hub_mix_shift_moves_one_hubs_origins_and_a_ring_rides_it(worlds: dict[str | None, Rows]) -> None:
    rows = worlds["hub_mix"]

    def beihai_share(day_from: int, day_to: int) -> float:
        into = [m for m, t in rows if m["hub_id"] == "SYX-TIANYA" and day_from <= t["day"] < day_to]
        return sum(m["origin"]["city"] == "Beihai" for m in into) / len(into)

    assert beihai_share(DAY, BASE.days) > beihai_share(0, DAY) + 0.05
    novel = _novel(rows)
    assert {m["hub_id"] for m, _ in novel} == {"SYX-TIANYA"} and {m["origin"]["city"] for m, _ in novel} == {"Beihai"}


def test_unknown_kinds_and_kinds_without_a_day_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown kind of new pattern 'meteor'"):
        plan("meteor")
    with pytest.raises(ValueError, match="needs a new_pattern_day"):
        next(generate(WorldConfig(days=1, parcels_per_day=100, pattern="route")))
