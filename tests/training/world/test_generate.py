"""The synthetic world: deterministic, on contract, rare and hard (no single field gives contraband away),
with outcomes that agree with the truth, a new pattern that starts on its day and a benign shift."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from training.world.generate import WorldConfig, generate, write_world
from training.world.tables import CONTRABAND_TYPES, NEW_PATTERN, PATTERNS

WORLD = WorldConfig(days=16, parcels_per_day=4000, seed=3, new_pattern_day=10)
SMALL = WorldConfig(days=4, parcels_per_day=800, seed=5, new_pattern_day=1, shift_day=2)
PRIORITY = frozenset(WORLD.priority_provinces)
RINGS = frozenset(PATTERNS) - {"benign", "diffuse"}
CAPACITY = 0.05

TOP_KEYS = {"schema_version", "parcel_id", "carrier", "hub_id", "accepted_at", "origin", "destination", "sender",
            "recipient", "contents", "weight_g", "length_cm", "width_cm", "height_cm", "pieces", "service", "payment"}
NESTED_KEYS = {
    "origin": {"province", "city", "district", "postcode", "outlet_id"},
    "destination": {"province", "city", "district", "address", "address_type"},
    "sender": {"name", "phone", "id_number", "account_id", "account_opened", "id_verified"},
    "recipient": {"name", "phone", "address"},
}
CONTENTS_KEYS = {"description", "category", "quantity", "declared_value", "currency"}
ENUMS = {
    ("destination", "address_type"): {"home", "business", "locker", "hotel", "pickup_point"},
    ("contents", "category"): {"gift", "documents", "commercial", "sample", "returned", "other"},
    ("service",): {"standard", "express", "economy"},
    ("payment",): {"prepaid", "cod", "cash", "business_account"},
    ("carrier",): {"JT", "SF", "YTO", "ZTO", "STO", "YD", "EMS"},
    ("hub_id",): {"HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA"},
}
WAYBILL = {"JT": r"JT\d{13}", "SF": r"SF\d{13}", "YTO": r"YT\d{13}", "ZTO": r"78\d{12}", "STO": r"77\d{11}",
           "YD": r"43\d{11}", "EMS": r"11\d{11}"}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class World:
    manifests: list[dict[str, Any]]
    truth: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]

    def in_scope(self) -> list[int]:
        return [i for i, m in enumerate(self.manifests)
                if m["origin"]["province"] in PRIORITY and m["destination"]["province"] == "Hainan"]


def _read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    files = write_world(WORLD, tmp_path_factory.mktemp("world"))
    return World(_read(files.manifests), _read(files.truth), _read(files.outcomes))


def _flat(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in record.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _recall_at_capacity(score: np.ndarray, label: np.ndarray, day: np.ndarray, seed: int = 0) -> float:
    """Share of contraband caught when each day the top CAPACITY share of parcels is screened."""
    rng = np.random.default_rng(seed)
    caught = total = 0
    for d in np.unique(day):
        idx = np.flatnonzero(day == d)
        k = round(CAPACITY * len(idx))
        # Random tie-breaking: a constant field must not look clever through parcel order.
        order = np.lexsort((rng.random(len(idx)), -np.nan_to_num(score[idx], nan=-np.inf)))
        caught += int(label[idx[order[:k]]].sum())
        total += int(label[idx].sum())
    return caught / max(total, 1)


# --------------------------------------------------------------------------- determinism


def test_same_config_writes_identical_files_and_generate_matches(tmp_path: Path) -> None:
    a = write_world(SMALL, tmp_path / "a")
    b = write_world(SMALL, tmp_path / "b")
    for left, right in [(a.manifests, b.manifests), (a.truth, b.truth), (a.outcomes, b.outcomes)]:
        assert left.read_bytes() == right.read_bytes()
    streamed = list(generate(SMALL))
    assert [orjson.dumps(m) for m, _ in streamed] == a.manifests.read_bytes().splitlines()
    assert [orjson.dumps(t) for _, t in streamed] == a.truth.read_bytes().splitlines()
    other = write_world(WorldConfig(days=SMALL.days, parcels_per_day=SMALL.parcels_per_day, seed=6), tmp_path / "c")
    assert other.manifests.read_bytes() != a.manifests.read_bytes()


def test_progress_reports_parcels_written_per_day(tmp_path: Path) -> None:
    seen: list[int] = []
    files = write_world(SMALL, tmp_path, progress=seen.append)
    assert len(seen) == SMALL.days
    assert seen == sorted(seen) and seen[0] > 0
    assert seen[-1] == len(files.manifests.read_bytes().splitlines())


# --------------------------------------------------------------------------- the contract


def test_manifests_follow_schema_version_1(world: World) -> None:
    for m in world.manifests:
        assert set(m) == TOP_KEYS
        for part, keys in NESTED_KEYS.items():
            assert set(m[part]) == keys, part
        assert CONTENTS_KEYS <= set(m["contents"]) <= CONTENTS_KEYS | {"hs_code"}
        assert m["schema_version"] == 1
        for path, allowed in ENUMS.items():
            value: Any = m
            for key in path:
                value = value[key]
            assert value in allowed, (path, value)
        assert re.fullmatch(WAYBILL[m["carrier"]], m["parcel_id"])
        for key in ("weight_g", "length_cm", "width_cm", "height_cm", "pieces"):
            assert type(m[key]) is int and m[key] > 0, key
        c = m["contents"]
        assert type(c["quantity"]) is int and c["quantity"] >= 1
        assert type(c["declared_value"]) is float and c["declared_value"] >= 0 and c["currency"] == "CNY"
        assert "hs_code" not in c or re.fullmatch(r"\d{6}", c["hs_code"])
        s = m["sender"]
        assert re.fullmatch(r"1[3-9]\d{9}", s["phone"]) and re.fullmatch(r"1[3-9]\d{9}", m["recipient"]["phone"])
        assert re.fullmatch(r"\d{17}[\dX]", s["id_number"])
        assert type(s["id_verified"]) is bool
        assert s["account_opened"] is None or dt.date.fromisoformat(s["account_opened"]) <= dt.date.fromisoformat(
            m["accepted_at"][:10])
        assert m["origin"]["postcode"] is None or re.fullmatch(r"\d{6}", m["origin"]["postcode"])
        assert m["recipient"]["address"] == m["destination"]["address"]


def test_times_are_iso_with_china_offset_and_sorted(world: World) -> None:
    times = [dt.datetime.fromisoformat(m["accepted_at"]) for m in world.manifests]
    assert all(t.utcoffset() == dt.timedelta(hours=8) for t in times)
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert [(t.date() - WORLD.start).days for t in times] == [t["day"] for t in world.truth]


def test_ids_are_unique_and_fake(world: World) -> None:
    ids = [m["parcel_id"] for m in world.manifests]
    assert len(set(ids)) == len(ids)
    # Check digits are deliberately wrong, so no generated ID number can belong to a real person.
    for m in world.manifests[:5000]:
        number = m["sender"]["id_number"]
        valid = "10X98765432"[sum(int(ch) * w for ch, w in zip(number[:17], ID_WEIGHTS, strict=True)) % 11]
        assert number[17] != valid


def test_optional_fields_are_sometimes_missing(world: World) -> None:
    n = len(world.manifests)
    no_hs = sum("hs_code" not in m["contents"] for m in world.manifests) / n
    no_postcode = sum(m["origin"]["postcode"] is None for m in world.manifests) / n
    no_opened = sum(m["sender"]["account_opened"] is None for m in world.manifests) / n
    assert 0.4 < no_hs < 0.9
    assert 0.03 < no_postcode < 0.15
    assert 0.002 < no_opened < 0.06


def test_truth_lines_align_with_manifests(world: World) -> None:
    assert [t["parcel_id"] for t in world.truth] == [m["parcel_id"] for m in world.manifests]
    for t in world.truth:
        assert set(t) == {"parcel_id", "label", "p", "pattern", "day"}
        assert type(t["label"]) is bool and type(t["p"]) is float and 0.0 < t["p"] < 1.0
        assert t["pattern"] in PATTERNS and 0 <= t["day"] < WORLD.days


# --------------------------------------------------------------------------- the flow


def test_volume_mix_and_seasonality(world: World) -> None:
    n = len(world.manifests)
    priority = sum(m["origin"]["province"] in PRIORITY for m in world.manifests) / n
    hainan = sum(m["destination"]["province"] == "Hainan" for m in world.manifests) / n
    assert 0.52 < priority < 0.70
    assert 0.92 < hainan < 0.98
    hours = Counter(int(m["accepted_at"][11:13]) for m in world.manifests)
    assert sum(hours[h] for h in (18, 19, 20)) > 1.5 * sum(hours[h] for h in (8, 9, 10))
    per_day = Counter(t["day"] for t in world.truth)
    weekend = [per_day[d] for d in per_day if (WORLD.start + dt.timedelta(days=d)).weekday() >= 5]
    weekday = [per_day[d] for d in per_day if (WORLD.start + dt.timedelta(days=d)).weekday() < 5]
    assert np.mean(weekend) < 0.92 * np.mean(weekday)


def test_entity_history_is_informative_and_rings_rotate(world: World) -> None:
    uses = Counter(m["sender"]["account_id"] for m in world.manifests)
    repeat = sum(uses[m["sender"]["account_id"]] > 1 for m in world.manifests) / len(world.manifests)
    assert repeat > 0.6  # most parcels come from senders seen more than once
    ring_accounts = Counter(m["sender"]["account_id"] for m, t in zip(world.manifests, world.truth, strict=True)
                            if t["pattern"] in RINGS)
    assert len(ring_accounts) > 30 and max(ring_accounts.values()) <= 25  # burnt after a few parcels
    # Newly opened benign accounts far outnumber ring fronts.
    young: set[str] = set()
    for m in world.manifests:
        opened = m["sender"]["account_opened"]
        if opened and (dt.date.fromisoformat(m["accepted_at"][:10]) - dt.date.fromisoformat(opened)).days <= 10:
            young.add(m["sender"]["account_id"])
    assert len(young - set(ring_accounts)) > 10 * len(ring_accounts)


def test_contraband_is_rare_and_comes_from_priority_origins(world: World) -> None:
    label = np.array([t["label"] for t in world.truth])
    p = np.array([t["p"] for t in world.truth])
    pattern = np.array([t["pattern"] for t in world.truth])
    scope = np.zeros(len(label), dtype=bool)
    scope[world.in_scope()] = True
    priority = np.array([m["origin"]["province"] in PRIORITY for m in world.manifests])
    assert 0.0015 < label[scope].mean() < 0.006
    assert label[~priority].mean() < 0.0002
    assert np.all(p[pattern == "benign"] <= 6e-4)
    ring = np.isin(pattern, list(RINGS))
    assert np.all((p[ring] >= 0.15) & (p[ring] <= 0.8))
    assert 0.3 < label[ring].mean() < 0.8
    # Labels are draws from p: the count of positives agrees with the sum of probabilities.
    assert abs(label.sum() - p.sum()) < 4 * np.sqrt(p.sum())


def test_outcomes_cover_priority_to_hainan_and_agree_with_truth(world: World) -> None:
    scope = world.in_scope()
    assert [o["parcel_id"] for o in world.outcomes] == [world.manifests[i]["parcel_id"] for i in scope]
    for o, i in zip(world.outcomes, scope, strict=True):
        truth = world.truth[i]
        assert set(o) == {"parcel_id", "screened_at", "result", "contraband_type", "quantity_g", "source"}
        assert o["source"] == "xray"
        assert o["result"] == ("contraband" if truth["label"] else "clear")
        if truth["label"]:
            assert o["contraband_type"] in CONTRABAND_TYPES and o["quantity_g"] > 0
        else:
            assert o["contraband_type"] is None and o["quantity_g"] is None
        delay = dt.datetime.fromisoformat(o["screened_at"]) - dt.datetime.fromisoformat(
            world.manifests[i]["accepted_at"])
        assert dt.timedelta(minutes=10) <= delay <= dt.timedelta(hours=31)


def test_new_pattern_appears_only_from_its_day(world: World) -> None:
    days = [t["day"] for t in world.truth if t["pattern"] == NEW_PATTERN]
    assert len(days) >= 10 and min(days) == WORLD.new_pattern_day
    routes = Counter(m["origin"]["province"] for m, t in zip(world.manifests, world.truth, strict=True)
                     if t["pattern"] == NEW_PATTERN)
    assert routes.most_common(1)[0][0] == "Sichuan"


def test_new_pattern_only_adds_the_new_rings_parcels() -> None:
    base = WorldConfig(days=4, parcels_per_day=1500, seed=5)
    with_new = WorldConfig(days=4, parcels_per_day=1500, seed=5, new_pattern_day=2)
    plain = list(generate(base))
    assert all(t["pattern"] != NEW_PATTERN for _, t in plain)
    extended = list(generate(with_new))
    assert [pair for pair in extended if pair[1]["pattern"] != NEW_PATTERN] == plain
    assert any(t["pattern"] == NEW_PATTERN for _, t in extended)


def test_shift_changes_benign_reporting_but_not_contraband() -> None:
    base = WorldConfig(days=6, parcels_per_day=1500, seed=8)
    shifted = WorldConfig(days=6, parcels_per_day=1500, seed=8, shift_day=3)
    before = list(generate(base))
    after = list(generate(shifted))
    assert [pair for pair in before if pair[1]["day"] < 3] == [pair for pair in after if pair[1]["day"] < 3]

    def zto_rounded(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> float:
        weights: list[int] = [m["weight_g"] for m, t in pairs if t["day"] >= 3 and m["carrier"] == "ZTO"]
        return sum(w % 100 == 0 for w in weights) / len(weights)

    def merchants(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
        return sum(m["payment"] == "business_account" for m, t in pairs if t["day"] >= 3)

    def rings(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[tuple[str, str, float, bool]]:
        return [(m["accepted_at"], t["pattern"], t["p"], t["label"]) for m, t in pairs if t["pattern"] in RINGS]

    assert zto_rounded(before) < 0.1 and zto_rounded(after) == 1.0
    assert merchants(after) > 1.3 * merchants(before)
    assert rings(after) == rings(before) and len(rings(before)) > 10


# --------------------------------------------------------------------------- hardness


def _field_scores(world: World, idx: list[int], fit: np.ndarray, label: np.ndarray) -> dict[str, np.ndarray]:
    """Each manifest field as a ranking score: numbers as they are; categories by their contraband rate on the
    fitting days (smoothed); identifiers (thousands of values) by how often they occur."""
    columns: dict[str, list[Any]] = defaultdict(lambda: [None] * len(idx))
    for row, i in enumerate(idx):
        for key, value in _flat(world.manifests[i]):
            columns[key][row] = value
    prior = label[fit].mean()
    scores: dict[str, np.ndarray] = {}
    for key, values in columns.items():
        present = [v for v in values if v is not None]
        if key == "accepted_at":
            scores[key] = np.array([int(v[11:13]) * 60 + int(v[14:16]) for v in values], dtype=float)
        elif key == "sender.account_opened":
            scores[key] = np.array([np.nan if v is None else dt.date.fromisoformat(v).toordinal() for v in values])
        elif all(isinstance(v, int | float) for v in present):
            scores[key] = np.array([np.nan if v is None else float(v) for v in values])
        elif len(set(values)) <= 3000:
            hits: Counter[Any] = Counter()
            seen: Counter[Any] = Counter()
            for v, is_fit, y in zip(values, fit, label, strict=True):
                if is_fit:
                    seen[v] += 1
                    hits[v] += int(y)
            scores[key] = np.array([(hits[v] + 20 * prior) / (seen[v] + 20) for v in values])
        else:
            counts = Counter(values)
            scores[key] = np.array([counts[v] for v in values], dtype=float)
    return scores


def test_no_single_field_gives_contraband_away(world: World) -> None:
    idx = world.in_scope()
    label = np.array([world.truth[i]["label"] for i in idx])
    day = np.array([world.truth[i]["day"] for i in idx])
    p = np.array([world.truth[i]["p"] for i in idx])
    fit = day < WORLD.days // 2
    test = ~fit
    assert label[test].sum() >= 60  # enough contraband for the recall estimates to mean something

    def recall(score: np.ndarray) -> float:
        return _recall_at_capacity(score[test], label[test], day[test])

    oracle = recall(p)
    assert recall(label.astype(float)) == pytest.approx(1.0, abs=0.02)  # the measure itself can see a leak
    best = {key: max(recall(s), recall(-s)) for key, s in _field_scores(world, idx, fit, label).items()}
    worst_field, best_recall = max(best.items(), key=lambda kv: kv[1])
    assert best_recall <= 0.45, (worst_field, best_recall)
    assert oracle >= 0.55
    assert oracle >= best_recall + 0.2
