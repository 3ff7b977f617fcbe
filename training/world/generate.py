"""Synthetic world for ParcelGuard: seeded express manifests into Hainan, with hidden truth.

Role: the project's only source of labelled data. It simulates the benign flow (e-commerce
merchants, individuals, returns, tourists at hotels), trafficking rings that rotate their
identities, and diffuse low-level risk (user networks, small dealers) hidden among ordinary
senders. Every parcel gets a true contraband probability ``p``; its label is a seeded Bernoulli
draw, so models can be compared with the oracle that ranks by ``p``.

Outputs are manifests (schema version 1), truth lines and a fully screened outcome history for
priority-origin parcels into Hainan. Training/evaluation tooling only: the running service must not
import it (an import-linter contract holds that). Every name, phone and ID number is generated; ID check
digits are deliberately wrong. The fixed catalogue (places, names, profiles, rings, rates) is in ``tables``.

Over 400 lines because one seeded random stream runs through it in a fixed order: split further, a reordered
draw would silently change every generated world (and every figure measured on one).
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from training.world.patterns import plan
from training.world.tables import (
    _BACKGROUND_DRUGS,
    _BUSINESS_KINDS,
    _CARRIERS,
    _CITY_INDEX,
    _COMMUNITY,
    _COMMUNITY_KIND,
    _DIFFUSE_DRUGS,
    _DIFFUSE_MIX,
    _GIVEN,
    _HOTEL_A,
    _HOTEL_B,
    _HOUR_PERSON,
    _HOUR_SHOP,
    _MOBILE_PREFIXES,
    _PERSON_MIX,
    _PROFILE_INDEX,
    _SHOP_MIX,
    _SHOP_SUFFIX,
    _SHOP_WORDS,
    _SURNAMES,
    _TIMES,
    _WAYBILL,
    _WEEKDAY,
    ALL_AREAS,
    AREAS,
    BASE_VOLUME,
    BENIGN_RISK,
    CAMOUFLAGE,
    COLLECTOR_SHARE,
    DIFFUSE_RISK,
    NEWCOMER_SHARE,
    ORIGINS,
    OTHER_AREAS,
    PROFILES,
    PROMO_PRICE,
    PROMO_VOLUME,
    PROVINCE_CODES,
    RETURN_SHARE,
    RINGS,
    SCHEMA_VERSION,
    SHOP_SHARE,
    SOURCE_PROVINCES,
    FloatArray,
    IntArray,
    Parcel,
    RingSpec,
    Weighted,
    _Area,
    _Profile,
)

# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class WorldConfig:
    days: int = 30
    parcels_per_day: int = 8000  # all parcels, all origins (a shift-day promo adds merchant volume)
    start: dt.date = dt.date(2026, 10, 1)
    seed: int = 7
    new_pattern_day: int | None = None  # 0-based day from which the new pattern appears
    # Which kind of new pattern (``patterns.PATTERN_KINDS``). None keeps the original world exactly: the
    # Sichuan ring on new_pattern_day, and truth lines without a ``new_pattern`` field.
    pattern: str | None = None
    shift_day: int | None = None  # 0-based day from which the benign shift applies
    priority_provinces: tuple[str, ...] = ("Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou")


@dataclass(frozen=True)
class WorldFiles:
    manifests: Path
    truth: Path
    outcomes: Path


def generate(config: WorldConfig) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yields (manifest, truth) in non-decreasing accepted_at order, day by day."""
    world = _World(config)
    for day in range(config.days):
        for manifest, truth, _ in world.day(day):
            yield manifest, truth


def write_world(
    config: WorldConfig, out_dir: Path, progress: Callable[[int], None] | None = None
) -> WorldFiles:
    """Writes manifests.jsonl, truth.jsonl, outcomes.jsonl into out_dir (orjson, one object per line).

    Outcomes cover every parcel from a priority province into Hainan (a fully screened history).
    progress(n) is called once per day with the number of parcels written so far.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = WorldFiles(out_dir / "manifests.jsonl", out_dir / "truth.jsonl", out_dir / "outcomes.jsonl")
    priority = frozenset(config.priority_provinces)
    nl = orjson.OPT_APPEND_NEWLINE
    world = _World(config)
    written = 0
    with files.manifests.open("wb") as fm, files.truth.open("wb") as ft, files.outcomes.open("wb") as fo:
        for day in range(config.days):
            parcels = world.day(day)
            fm.write(b"".join([orjson.dumps(m, option=nl) for m, _, _ in parcels]))
            ft.write(b"".join([orjson.dumps(t, option=nl) for _, t, _ in parcels]))
            fo.write(b"".join([
                orjson.dumps(o, option=nl)
                for m, _, o in parcels
                if m["origin"]["province"] in priority and m["destination"]["province"] == "Hainan"
            ]))
            written += len(parcels)
            if progress is not None:
                progress(written)
    return files



# --------------------------------------------------------------------------- helpers


def _table(items: Weighted) -> tuple[tuple[str, ...], FloatArray]:
    names = tuple(k for k, _ in items)
    cum = np.cumsum(np.array([w for _, w in items], dtype=np.float64))
    return names, cum / cum[-1]


def _pick(rng: np.random.Generator, cum: FloatArray, n: int) -> IntArray:
    """Weighted draws by inverse CDF: O(n log k) and cheap to redo when a pool grows."""
    idx: IntArray = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)
    return idx.astype(np.int64)


def _pick_names(rng: np.random.Generator, items: Weighted, n: int) -> list[str]:
    names, cum = _table(items)
    return [names[i] for i in _pick(rng, cum, n).tolist()]


def _pick1(seq: Sequence[str], u: float) -> str:
    return seq[int(u * len(seq))]


def _weighted_one(items: Weighted, u: float) -> str:
    total = sum(w for _, w in items)
    acc = 0.0
    for name, w in items:
        acc += w / total
        if u < acc:
            return name
    return items[-1][0]


class _Ids:
    """Fake but well-formed identities; phones and account ids are kept unique."""

    def __init__(self, rng: np.random.Generator, seen: set[str] | None = None) -> None:
        self.rng = rng
        self.seen: set[str] = set() if seen is None else seen
        # Common surnames are far commoner (Wang, Li, Zhang ...).
        self._surname_cum = np.cumsum([1.0 / (i + 4) for i in range(len(_SURNAMES))])

    def names(self, n: int, surnames: Sequence[str | None] | None = None) -> list[str]:
        drawn = [_SURNAMES[i] for i in _pick(self.rng, self._surname_cum, n).tolist()]
        sur = drawn if surnames is None else [s or d for s, d in zip(surnames, drawn, strict=True)]
        g1 = self.rng.integers(0, len(_GIVEN), n).tolist()
        g2 = self.rng.integers(0, len(_GIVEN), n).tolist()
        single = (self.rng.random(n) < 0.3).tolist()
        return [
            f"{s} {_GIVEN[a]}" if one else f"{s} {_GIVEN[a]}{_GIVEN[b].lower()}"
            for s, a, b, one in zip(sur, g1, g2, single, strict=True)
        ]

    def _unique(self, first: str, redraw: Callable[[], str]) -> str:
        value = first
        while value in self.seen:
            value = redraw()
        self.seen.add(value)
        return value

    def phones(self, n: int) -> list[str]:
        pre = self.rng.integers(0, len(_MOBILE_PREFIXES), n).tolist()
        num = self.rng.integers(0, 10**8, n).tolist()

        def redraw() -> str:
            return f"{_pick1(_MOBILE_PREFIXES, self.rng.random())}{self.rng.integers(0, 10**8):08d}"

        return [self._unique(f"{_MOBILE_PREFIXES[p]}{x:08d}", redraw) for p, x in zip(pre, num, strict=True)]

    def accounts(self, n: int, business: bool) -> list[str]:
        prefix, digits = ("B", 8) if business else ("C", 10)

        def redraw() -> str:
            return f"{prefix}{self.rng.integers(0, 10**digits):0{digits}d}"

        return [self._unique(f"{prefix}{x:0{digits}d}", redraw) for x in self.rng.integers(0, 10**digits, n).tolist()]

    def id_numbers(self, provinces: Sequence[str]) -> list[str]:
        n = len(provinces)
        city = self.rng.integers(1, 20, n).tolist()
        county = self.rng.integers(1, 30, n).tolist()
        born = self.rng.integers(0, 16800, n).tolist()  # 1960 .. 2005
        seq = self.rng.integers(0, 1000, n).tolist()
        epoch = dt.date(1960, 1, 1)
        bodies = [
            f"{PROVINCE_CODES[prov]}{c:02d}{k:02d}{(epoch + dt.timedelta(days=b)):%Y%m%d}{s:03d}"
            for prov, c, k, b, s in zip(provinces, city, county, born, seq, strict=True)
        ]
        return [b + ch for b, ch in zip(bodies, _wrong_check_digits(bodies), strict=True)]


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = "10X98765432"


def _wrong_check_digits(bodies: list[str]) -> list[str]:
    """Shifted GB 11643 check characters: no generated number can be a valid real ID."""
    if not bodies:
        return []
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(len(bodies), 17) - 48
    valid = (digits.astype(np.int64) @ _ID_WEIGHTS) % 11
    return [_ID_CHECK[(v + 1) % 11] for v in valid.tolist()]


# --------------------------------------------------------------------------- pools and batches

Ident = tuple[str, str, str, str, str | None]  # name, phone, id_number, account_id, account_opened


@dataclass
class _Senders:
    """Columnar store of sender identities: individuals, merchants and ring fronts."""

    ident: list[Ident] = field(default_factory=list)
    opened_day: list[float] = field(default_factory=list)  # true opening day, relative to start
    city: list[int] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)  # usual outlet
    favorite: list[int] = field(default_factory=list)  # usual recipient (individuals)
    risk: list[float] = field(default_factory=list)  # latent diffuse risk, 0 for most
    profile: list[int] = field(default_factory=list)  # merchants' main line of goods
    price: list[float] = field(default_factory=list)  # merchants' price level
    service: list[str] = field(default_factory=list)  # merchants' contracted service

    def add(self, ident: Ident, opened_day: float, city: int, outlet: int, *, favorite: int = -1,
            risk: float = 0.0, profile: int = -1, price: float = 1.0, service: str = "standard") -> int:
        self.ident.append(ident)
        self.opened_day.append(opened_day)
        self.city.append(city)
        self.outlet.append(outlet)
        self.favorite.append(favorite)
        self.risk.append(risk)
        self.profile.append(profile)
        self.price.append(price)
        self.service.append(service)
        return len(self.ident) - 1


@dataclass
class _Recipients:
    rows: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # name, phone, address, type, area
    surname: list[str] = field(default_factory=list)

    def add(self, name: str, phone: str, address: str, address_type: str, area: int) -> int:
        self.rows.append((name, phone, address, address_type, area))
        self.surname.append(name.split(" ", 1)[0])
        return len(self.rows) - 1


@dataclass
class _Batch:
    """One day's parcels in columns: every segment appends, assembly turns rows into dicts."""

    sec: list[int] = field(default_factory=list)
    sender: list[int] = field(default_factory=list)
    recipient: list[int] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    hs: list[str | None] = field(default_factory=list)
    qty: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    dims: list[tuple[float, float, float]] = field(default_factory=list)
    pieces: list[int] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    payment: list[str] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    p: list[float] = field(default_factory=list)  # nan: derived at assembly from latent risk and observables
    pattern: list[str] = field(default_factory=list)
    drugs: list[Weighted] = field(default_factory=list)
    grams: list[tuple[float, float]] = field(default_factory=list)
    merchant: list[bool] = field(default_factory=list)
    u: list[float] = field(default_factory=list)  # the uniform each label is drawn with (u < p)

    def add_goods(self, goods: _Goods) -> None:
        self.description += goods.description
        self.category += goods.category
        self.hs += goods.hs
        self.qty += goods.qty
        self.value += goods.value
        self.weight += goods.weight
        self.dims += goods.dims

    def add_truth(self, u: list[float], *, pattern: str = "benign", p: Sequence[float] | None = None,
                  drugs: Weighted = _BACKGROUND_DRUGS, grams: tuple[float, float] = (5.0, 200.0),
                  merchant: bool = False) -> None:
        n = len(u)
        self.u += u
        self.p += [float("nan")] * n if p is None else list(p)
        self.pattern += [pattern] * n
        self.drugs += [drugs] * n
        self.grams += [grams] * n
        self.merchant += [merchant] * n


@dataclass(frozen=True)
class _Goods:
    description: list[str]
    category: list[str]
    hs: list[str | None]
    qty: list[int]
    value: list[float]
    weight: list[float]
    dims: list[tuple[float, float, float]]


def _draw_goods(rng: np.random.Generator, profiles: IntArray, merchant: bool, price: FloatArray | None = None
                ) -> _Goods:
    """Contents, declared value and physical size for a vector of parcels, field by field."""
    n = len(profiles)
    prof = [PROFILES[i] for i in profiles.tolist()]

    def column(get: Callable[[_Profile], float]) -> FloatArray:
        return np.array([get(p) for p in prof], dtype=np.float64)

    value = column(lambda p: p.value[0]) * np.exp(column(lambda p: p.value[1]) * rng.standard_normal(n))
    if price is not None:
        value *= price
    if merchant:  # shops use list prices such as 89.9
        value = np.round(np.floor(value) + np.where(rng.random(n) < 0.4, 0.9, 0.0), 1)
    else:  # people mostly round what they declare
        rounded = np.where(value > 60, np.round(value / 10) * 10, np.round(value))
        value = np.where(rng.random(n) < 0.75, rounded, np.round(value, 1))
    token = rng.random(n) < column(lambda p: p.token) * (0.2 if merchant else 1.0)
    value = np.where(token, np.where(rng.random(n) < 0.6, 0.0, 1.0), np.maximum(value, 1.0))

    weight = column(lambda p: p.weight[0]) * np.exp(column(lambda p: p.weight[1]) * rng.standard_normal(n))
    weight = np.maximum(40.0, weight)
    lo, hi = column(lambda p: p.density[0]), column(lambda p: p.density[1])
    volume = weight / (lo + (hi - lo) * rng.random(n))
    r_w, r_h = rng.uniform(0.45, 0.95, n), rng.uniform(0.15, 0.7, n)  # box proportions
    length = np.cbrt(volume / (r_w * r_h))
    dims = list(zip(length.tolist(), (length * r_w).tolist(), (length * r_h).tolist(), strict=True))

    qty: list[int] = np.minimum(rng.geometric(0.55, n), column(lambda p: p.max_qty)).astype(np.int64).tolist()
    hs_default = 0.65 if merchant else 0.12
    has_hs = (rng.random(n) < column(lambda p: hs_default if p.hs_rate is None else p.hs_rate)).tolist()
    u = rng.random((n, 3)).tolist()
    descriptions = [_pick1(p.descriptions, r[0]) for p, r in zip(prof, u, strict=True)]
    categories = [_category(p, merchant, r[1]) for p, r in zip(prof, u, strict=True)]
    codes = [_pick1(p.hs_codes, r[2]) if h and p.hs_codes else None for p, r, h in zip(prof, u, has_hs, strict=True)]
    return _Goods(descriptions, categories, codes, qty, value.tolist(), weight.tolist(), dims)


def _category(profile: _Profile, merchant: bool, u: float) -> str:
    if merchant:
        if profile.key == "industrial":
            return "sample" if u < 0.6 else "commercial"
        return "commercial" if u < 0.88 else ("other" if u < 0.95 else "gift")
    return _weighted_one(profile.categories, u)


# --------------------------------------------------------------------------- the world


class _World:
    """All persistent state: outlets, places, entity pools and rings. One instance per run."""

    def __init__(self, config: WorldConfig) -> None:
        self.cfg = config
        self.scale = config.parcels_per_day / BASE_VOLUME
        self.rng = np.random.default_rng(config.seed)
        self.ids = _Ids(self.rng)
        self.senders = _Senders()
        self.recipients = _Recipients()
        self._seen_waybills: set[str] = set()
        self._build_outlets()
        self._build_places()
        self._build_recipients()
        self._build_people()
        self._build_merchants()
        self.rings = [_Ring(spec, self, 0, stream=k) for k, spec in enumerate(RINGS)]
        if config.pattern is not None and config.new_pattern_day is None:
            raise ValueError(f"a new pattern ({config.pattern}) needs a new_pattern_day")
        self.plan = None if config.new_pattern_day is None else plan(config.pattern or "ring")
        if self.plan is not None and config.new_pattern_day is not None:
            for k, spec in self.plan.switches.items():
                self.rings[k].switch = (config.new_pattern_day, spec)
            # New rings take the streams after the old rings', so the first keeps the original world's.
            self.rings += [_Ring(spec, self, config.new_pattern_day, stream=len(RINGS) + j)
                           for j, spec in enumerate(self.plan.new_rings)]

    # ---- construction

    def _build_outlets(self) -> None:
        rng = self.rng
        self.outlets: list[tuple[str, str, str, str, str, str]] = []  # id, carrier, province, city, district, postcode
        lapse: list[float] = []
        self.city_outlets: list[list[int]] = []
        self.city_outlet_cum: list[list[float]] = []
        for city in ORIGINS:
            n = 4 + int(7 * (city.people + city.shops) * max(self.scale, 0.25))
            nums = rng.choice(np.arange(1, 10000), size=n, replace=False).tolist()
            carriers = _pick_names(rng, _CARRIERS, n)
            first = len(self.outlets)
            for num, carrier, r in zip(nums, carriers, rng.random((n, 4)).tolist(), strict=True):
                di = int(r[0] * len(city.districts))
                postcode = f"{city.postcode + 11 * (di + 1) + int(r[1] * 9):06d}"
                self.outlets.append(
                    (f"{city.code}-{num:04d}", carrier, city.province, city.name, city.districts[di], postcode))
                # Most outlets check IDs; some franchise outlets let it lapse.
                lapse.append(0.003 if r[2] < 0.85 else (0.03 + 0.05 * r[3] if r[2] < 0.97 else 0.12 + 0.18 * r[3]))
            self.city_outlets.append(list(range(first, first + n)))
            self.city_outlet_cum.append(np.cumsum(rng.pareto(1.5, n) + 0.3).tolist())  # a few busy outlets
        self.lapse = np.array(lapse)
        self.outlet_carrier = [o[1] for o in self.outlets]

    def outlet_in(self, city_idx: int, u: float) -> int:
        """An outlet of the city, busy ones more likely."""
        cum = self.city_outlet_cum[city_idx]
        return self.city_outlets[city_idx][min(bisect.bisect_right(cum, u * cum[-1]), len(cum) - 1)]

    def _build_places(self) -> None:
        """Shared Hainan addresses: lockers, pick-up stations and hotels serve many recipients."""
        rng = self.rng
        self.lockers: list[list[str]] = []
        self.pickups: list[list[str]] = []
        self.hotels: list[list[str]] = []
        for area in ALL_AREAS:
            k = max(3, int(60 * area.weight * max(self.scale, 0.25)))
            u = rng.random((k * 5, 6)).tolist()
            spots = [f"{self._community(r)}, {self._road(area, r)}, {area.district}, {area.city}" for r in u]
            codes = rng.choice(np.arange(100, 10000), size=k, replace=False).tolist()
            self.lockers.append([f"Hive Box locker {area.city[:1]}{c}, {s}"
                                 for c, s in zip(codes, spots[:k], strict=True)])
            self.pickups.append([f"Cainiao Station {s}" for s in spots[k : k + max(2, k // 2)]])
            hotels = u[2 * k : 2 * k + k * (3 if area.city == "Sanya" else 1)]
            self.hotels.append([f"{_pick1(_HOTEL_A, r[4])} {_pick1(_HOTEL_B, r[5])}, {self._road(area, r)}, "
                                f"{area.district}, {area.city}" for r in hotels])
        self.area_cum = np.cumsum(np.array([a.weight for a in AREAS]))
        self.other_area_cum = np.cumsum(np.array([a.weight for a in OTHER_AREAS]))
        self.city_areas = {c: [i for i, a in enumerate(AREAS) if a.city == c] for c in sorted({a.city for a in AREAS})}

    @staticmethod
    def _community(u: list[float]) -> str:
        return f"{_pick1(_COMMUNITY, u[0])} {_pick1(_COMMUNITY_KIND, u[1])}"

    @staticmethod
    def _road(area: _Area, u: list[float]) -> str:
        return f"{_pick1(area.roads, u[2])} No.{1 + int(u[3] * 399)}"

    def _address(self, area_idx: int, kind: str, u: list[float]) -> str:
        area = ALL_AREAS[area_idx]
        shared = {"locker": self.lockers, "pickup_point": self.pickups, "hotel": self.hotels}.get(kind)
        if shared is not None:
            return _pick1(shared[area_idx], u[6])
        tail = f"{self._road(area, u)}, {area.district}, {area.city}"
        if kind == "business":
            return f"{_pick1(_SHOP_WORDS, u[4])} {_pick1(_BUSINESS_KINDS, u[5])}, {tail}"
        return (f"{self._community(u)} Bldg {1 + int(u[4] * 29)} Unit {1 + int(u[5] * 4)} "
                f"Rm {1 + int(u[6] * 32)}{1 + int(u[7] * 4):02d}, {tail}")

    def new_recipients(self, areas: Sequence[int], kinds: Sequence[str],
                       surnames: Sequence[str | None] | None = None, ids: _Ids | None = None) -> list[int]:
        ids = ids or self.ids
        n = len(areas)
        names = ids.names(n, surnames)
        phones = ids.phones(n)
        u = ids.rng.random((n, 8)).tolist()
        add = self.recipients.add
        return [add(nm, ph, self._address(a, k, r), k, a)
                for nm, ph, a, k, r in zip(names, phones, areas, kinds, u, strict=True)]

    def _build_recipients(self) -> None:
        rng = self.rng
        n = int(30000 * self.scale) + 300
        kinds = _pick_names(rng, (("home", .6), ("locker", .18), ("pickup_point", .12), ("business", .10)), n)
        self.new_recipients(_pick(rng, self.area_cum, n).tolist(), kinds)
        # Heavy-tailed: some residents (and most shops) receive far more than others.
        weights = rng.lognormal(0.0, 1.0, n) * np.array([6.0 if k == "business" else 1.0 for k in kinds])
        self.resident_cum = np.cumsum(weights)
        self.hainan_shops = [i for i, k in enumerate(kinds) if k == "business"]
        m = int(1500 * self.scale) + 50
        other = (len(AREAS) + _pick(rng, self.other_area_cum, m)).tolist()
        self.new_recipients(other, _pick_names(rng, (("home", .6), ("business", .25), ("pickup_point", .15)), m))
        self.other_range = (n, n + m)
        k = int(250 * self.scale) + 10
        kinds = _pick_names(rng, (("locker", .4), ("pickup_point", .3), ("home", .3)), k)
        self.collectors = self.new_recipients(_pick(rng, self.area_cum, k).tolist(), kinds)

    def dates(self, days: Sequence[float], none_rate: float, rng: np.random.Generator | None = None
              ) -> list[str | None]:
        # Legacy accounts migrated without an opening date.
        missing = ((rng or self.rng).random(len(days)) < none_rate).tolist()
        start = self.cfg.start
        return [None if m else (start + dt.timedelta(days=int(d))).isoformat()
                for d, m in zip(days, missing, strict=True)]

    def new_people(self, cities: Sequence[int], opened: Sequence[float]) -> list[int]:
        """Individuals with a usual outlet, a usual recipient (often family) and maybe diffuse risk."""
        rng = self.rng
        n = len(cities)
        favorite: list[int] = _pick(rng, self.resident_cum, n).tolist()
        u = rng.random((n, 4)).tolist()
        risk = np.exp(rng.uniform(np.log(DIFFUSE_RISK[0]), np.log(DIFFUSE_RISK[1]), n)).tolist()
        risky = [r if x[0] < ORIGINS[c].diffuse else 0.0 for r, x, c in zip(risk, u, cities, strict=True)]
        # Some feed a local collector, who thus hears from many unrelated senders; they carry more.
        fed = [i for i in range(n) if risky[i] > 0 and u[i][1] < COLLECTOR_SHARE]
        for i, k in zip(fed, rng.integers(0, len(self.collectors), len(fed)).tolist(), strict=True):
            favorite[i] = self.collectors[k]
            risky[i] *= 1.5
        sur = self.recipients.surname
        family = [sur[f] if x[2] < 0.45 and r == 0.0 else None for f, x, r in zip(favorite, u, risky, strict=True)]
        provinces = [ORIGINS[c].province for c in cities]
        idents = zip(self.ids.names(n, family), self.ids.phones(n), self.ids.id_numbers(provinces),
                     self.ids.accounts(n, business=False), self.dates(opened, 0.03), strict=True)
        return [
            self.senders.add(ident, op, c, self.outlet_in(c, x[3]), favorite=f, risk=r)
            for ident, op, c, x, f, r in zip(idents, opened, cities, u, favorite, risky, strict=True)
        ]

    def _build_people(self) -> None:
        rng = self.rng
        n = int(45000 * self.scale) + 500
        self.people_city_cum = np.cumsum([c.people for c in ORIGINS])
        ages = np.minimum(3000.0, 10 + rng.exponential(700, n))
        self.people = self.new_people(_pick(rng, self.people_city_cum, n).tolist(), (-ages).tolist())
        self.people_w: list[float] = (rng.pareto(1.3, n) + 1.0).clip(max=150.0).tolist()  # heavy-tailed activity

    def _build_merchants(self) -> None:
        self.merchants: list[int] = []
        self.merchant_w: list[float] = []
        self.shop_city_cum = np.cumsum([c.shops for c in ORIGINS])
        self.new_merchants(self.rng.uniform(-2500, -30, int(900 * self.scale) + 30).tolist())

    def new_merchants(self, opened: Sequence[float]) -> None:
        rng = self.rng
        n = len(opened)
        cities = _pick(rng, self.shop_city_cum, n).tolist()
        u = rng.random((n, 6)).tolist()
        shop_mix = _pick_names(rng, _SHOP_MIX, n)
        provinces = [ORIGINS[c].province for c in cities]
        idents = zip(self.ids.names(n), self.ids.phones(n), self.ids.id_numbers(provinces),
                     self.ids.accounts(n, business=True), self.dates(opened, 0.02), strict=True)
        services = _pick_names(rng, (("standard", .55), ("economy", .3), ("express", .15)), n)
        price = rng.lognormal(0, 0.4, n).tolist()
        activity = rng.lognormal(0.0, 1.7, n).tolist()  # a few big shops ship most
        for ident, op, c, r, mix, svc, pr, act in zip(idents, opened, cities, u, shop_mix, services, price, activity,
                                                       strict=True):
            city = ORIGINS[c]
            line = _pick1(city.goods, r[1]) if r[0] < 0.7 else mix
            if r[2] < 0.4:  # waybills often carry the shop's name instead of a person's
                ident = (f"{city.name} {_pick1(_SHOP_WORDS, r[3])} {_pick1(_SHOP_SUFFIX, r[4])}", *ident[1:])
            self.merchants.append(self.senders.add(ident, op, c, self.outlet_in(c, r[5]), profile=_PROFILE_INDEX[line],
                                                   price=pr, service=svc))
            self.merchant_w.append(act)

    # ---- one day

    def day(self, d: int) -> list[Parcel]:
        # A day is thousands of acyclic dicts; pausing the cyclic GC while building them avoids
        # repeated scans of the large entity pools (about a third of the run time otherwise).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._day(d)
        finally:
            if enabled:
                gc.enable()

    def _day(self, d: int) -> list[Parcel]:
        rng = self.rng
        date = self.cfg.start + dt.timedelta(days=d)
        shifted = self.cfg.shift_day is not None and d >= self.cfg.shift_day
        total = int(rng.poisson(self.cfg.parcels_per_day * _WEEKDAY[date.weekday()] / np.mean(_WEEKDAY)))
        n_shop = int(rng.binomial(total, SHOP_SHARE))
        n_return = int(rng.binomial(total - n_shop, RETURN_SHARE))
        n_person = total - n_shop - n_return
        if shifted:
            n_shop = int(n_shop * PROMO_VOLUME)
        self.new_merchants((d - rng.integers(0, 20, int(rng.poisson(3 * self.scale)))).tolist())
        batch = _Batch()
        self._shops(batch, n_shop, promo=shifted)
        self._persons(batch, d, n_person)
        self._returns(batch, n_return)
        for ring in self.rings:
            if d >= ring.start_day:
                ring.emit(batch, d, date.weekday())
        return self._assemble(batch, d, date, shifted)

    def _times(self, n: int, hours: Sequence[float]) -> list[int]:
        h = _pick(self.rng, np.cumsum(np.array(hours, dtype=np.float64)), n)
        secs: list[int] = (h * 3600 + self.rng.integers(0, 3600, n)).tolist()
        return secs

    def _recipients_for(self, n: int, favorite: list[int] | None, p_fav: float, p_tourist: float,
                        p_other: float) -> list[int]:
        rng = self.rng
        out: list[int] = _pick(rng, self.resident_cum, n).tolist()
        u = rng.random(n)
        lo, hi = self.other_range
        other = np.flatnonzero(u < p_other).tolist()
        for i, r in zip(other, rng.integers(lo, hi, len(other)).tolist(), strict=True):
            out[i] = r
        # Tourists: fresh phones at hotels, mostly in Sanya. The benign twins of hotel drops.
        tourist = np.flatnonzero((u >= p_other) & (u < p_other + p_tourist)).tolist()
        areas = np.where(rng.random(len(tourist)) < 0.7, rng.choice(self.city_areas["Sanya"], len(tourist)),
                         _pick(rng, self.area_cum, len(tourist))).tolist()
        for i, r in zip(tourist, self.new_recipients(areas, ["hotel"] * len(tourist)), strict=True):
            out[i] = r
        if favorite is not None:
            for i in np.flatnonzero(u >= 1 - p_fav).tolist():
                out[i] = favorite[i]
        return out

    def _verified(self, outlets: list[int]) -> list[bool]:
        verified: list[bool] = (self.rng.random(len(outlets)) >= self.lapse[outlets]).tolist()
        return verified

    def _shops(self, batch: _Batch, n: int, promo: bool) -> None:
        rng = self.rng
        s = self.senders
        senders = [self.merchants[i] for i in _pick(rng, np.cumsum(self.merchant_w), n).tolist()]
        profiles = np.array([s.profile[i] for i in senders], dtype=np.int64)
        off_line = rng.random(n) < 0.15  # a shop sometimes ships something off its main line
        profiles[off_line] = [_PROFILE_INDEX[k] for k in _pick_names(rng, _SHOP_MIX, int(off_line.sum()))]
        price = np.array([s.price[i] for i in senders])
        if promo:
            price *= np.where(rng.random(n) < 0.6, PROMO_PRICE, 1.0)
        outlets = [s.outlet[i] for i in senders]
        batch.sec += self._times(n, _HOUR_SHOP)
        batch.sender += senders
        batch.recipient += self._recipients_for(n, None, 0.0, 0.03, 0.05)
        batch.outlet += outlets
        batch.add_goods(_draw_goods(rng, profiles, merchant=True, price=price))
        batch.pieces += np.where(rng.random(n) < 0.9, 1, rng.integers(2, 4, n)).tolist()
        batch.service += [s.service[i] for i in senders]
        batch.payment += _pick_names(rng, (("business_account", .85), ("prepaid", .08), ("cod", .07)), n)
        batch.verified += self._verified(outlets)
        batch.add_truth(rng.random(n).tolist(), merchant=True)

    def _persons(self, batch: _Batch, d: int, n: int) -> None:
        rng = self.rng
        s = self.senders
        # Newcomers: accounts opened today or in the last days, far more numerous than ring fronts.
        n_new = int(rng.binomial(n, NEWCOMER_SHARE))
        age = np.where(rng.random(n_new) < 0.6, 0,
                       np.where(rng.random(n_new) < 0.6, rng.integers(1, 4, n_new), rng.integers(4, 30, n_new)))
        new = self.new_people(_pick(rng, self.people_city_cum, n_new).tolist(), (d - age).tolist())
        senders = [self.people[i] for i in _pick(rng, np.cumsum(self.people_w), n - n_new).tolist()] + new
        self.people += new
        self.people_w += (rng.pareto(1.3, n_new) + 1.0).clip(max=150.0).tolist()
        risky = [s.risk[i] > 0 for i in senders]
        base = _pick_names(rng, _PERSON_MIX, n)
        vague = _pick_names(rng, _DIFFUSE_MIX, n)
        u = rng.random((n, 3)).tolist()
        keys = [
            v if dl and r[0] < 0.3 else (_pick1(ORIGINS[s.city[snd]].goods, r[1]) if r[0] < 0.3 else b)
            for snd, dl, b, v, r in zip(senders, risky, base, vague, u, strict=True)
        ]
        # Individuals mostly hand parcels in at their usual outlet.
        outlets = [self.outlet_in(s.city[snd], r[2] * 4) if r[2] < 0.25 else s.outlet[snd]
                   for snd, r in zip(senders, u, strict=True)]
        batch.sec += self._times(n, _HOUR_PERSON)
        batch.sender += senders
        batch.recipient += self._recipients_for(n, [s.favorite[i] for i in senders], 0.65, 0.05, 0.05)
        batch.outlet += outlets
        batch.add_goods(_draw_goods(rng, np.array([_PROFILE_INDEX[k] for k in keys], dtype=np.int64), merchant=False))
        batch.pieces += np.where(rng.random(n) < 0.97, 1, 2).tolist()
        batch.service += _pick_names(rng, (("standard", .55), ("express", .35), ("economy", .1)), n)
        batch.payment += _pick_names(rng, (("prepaid", .66), ("cash", .24), ("cod", .1)), n)
        batch.verified += self._verified(outlets)
        first = len(batch.pattern)
        batch.add_truth(rng.random(n).tolist())
        for i in (i for i, dl in enumerate(risky) if dl):
            batch.pattern[first + i] = "diffuse"
            batch.drugs[first + i] = _DIFFUSE_DRUGS
            batch.grams[first + i] = (2.0, 60.0)

    def _returns(self, batch: _Batch, n: int) -> None:
        """Goods sent back to Hainan shops by mainland customers."""
        rng = self.rng
        s = self.senders
        senders = [self.people[i] for i in _pick(rng, np.cumsum(self.people_w), n).tolist()]
        goods = _draw_goods(rng, np.array([_PROFILE_INDEX[k] for k in _pick_names(rng, _SHOP_MIX, n)]), merchant=False)
        goods.category[:] = ["returned"] * n
        outlets = [s.outlet[i] for i in senders]
        batch.sec += self._times(n, _HOUR_PERSON)
        batch.sender += senders
        batch.recipient += [self.hainan_shops[i] for i in rng.integers(0, len(self.hainan_shops), n).tolist()]
        batch.outlet += outlets
        batch.add_goods(goods)
        batch.pieces += [1] * n
        batch.service += _pick_names(rng, (("standard", .7), ("economy", .2), ("express", .1)), n)
        batch.payment += _pick_names(rng, (("prepaid", .5), ("cod", .3), ("cash", .2)), n)
        batch.verified += self._verified(outlets)
        batch.add_truth(rng.random(n).tolist())

    # ---- truth and assembly

    def _true_p(self, batch: _Batch, d: int, province: list[str], address_type: list[str]) -> FloatArray:
        """Benign and diffuse probability: a latent level nudged by a few observables."""
        s = self.senders
        young = d - np.array([s.opened_day[i] for i in batch.sender]) <= 7
        token = np.array(batch.value) <= 1.0
        shared = np.isin(np.array(address_type), ["locker", "pickup_point", "hotel"])
        cash = np.array(batch.payment) == "cash"
        unverified = ~np.array(batch.verified)
        tilt = (1 + 0.6 * young) * (1 + 0.4 * token) * (1 + 0.3 * shared) * (1 + 0.3 * cash) * (1 + 1.0 * unverified)
        source = np.isin(np.array(province), list(SOURCE_PROVINCES))
        base = np.where(source, BENIGN_RISK[0], BENIGN_RISK[1]) * np.where(np.array(batch.merchant), 0.4, 1.0)
        benign = np.minimum(base * tilt, BENIGN_RISK[2])
        # The square root keeps diffuse risk mostly latent: observables only nudge it.
        diffuse = np.array([s.risk[i] for i in batch.sender]) * np.sqrt(tilt) / 1.25
        latent = np.where(np.array(batch.pattern) == "diffuse", diffuse, benign)
        p = np.array(batch.p)
        return np.where(np.isnan(p), latent, p)

    def _assemble(self, batch: _Batch, d: int, date: dt.date, shifted: bool) -> list[Parcel]:
        # A per-day stream drawn one row per parcel: how many ring parcels a day has must change
        # neither the other parcels of the day nor later days.
        n = len(batch.sec)
        rng = np.random.default_rng([self.cfg.seed, 0, d])
        u = rng.random((n, 5))
        carriers = [self.outlet_carrier[o] for o in batch.outlet]
        weight, dims = _reported_size(batch, carriers, shifted)
        origins = [self.outlets[o] for o in batch.outlet]
        dests = [self.recipients.rows[r] for r in batch.recipient]
        p = self._true_p(batch, d, [o[2] for o in origins], [r[3] for r in dests])
        label = (np.array(batch.u) < p).tolist()
        postcode_null = (u[:, 0] < 0.08).tolist()
        # Second X-ray some minutes to hours after acceptance (log-uniform, 20 min to 30 h).
        delay = np.exp(np.log(1200) + u[:, 1] * np.log(30 * 3600 / 1200)).astype(np.int64)
        screened = np.array(batch.sec, dtype=np.int64) + delay
        days = [(date + dt.timedelta(days=k)).isoformat() for k in range(3)]
        screened_at = [f"{days[x // 86400]}T{_TIMES[x % 86400]}+08:00" for x in screened.tolist()]
        u_drug = u[:, 2:4].tolist()
        waybills = self._waybills(rng, carriers, (u[:, 4] * 10**12).astype(np.int64).tolist())
        s = self.senders
        out: list[Parcel] = []
        for i in sorted(range(n), key=batch.sec.__getitem__):
            o, r = origins[i], dests[i]
            area = ALL_AREAS[r[4]]
            name, phone, idn, account, opened = s.ident[batch.sender[i]]
            manifest = {
                "schema_version": SCHEMA_VERSION,
                "parcel_id": waybills[i],
                "carrier": carriers[i],
                "hub_id": area.hub,
                "accepted_at": f"{days[0]}T{_TIMES[batch.sec[i]]}+08:00",
                "origin": {"province": o[2], "city": o[3], "district": o[4],
                           "postcode": None if postcode_null[i] else o[5], "outlet_id": o[0]},
                "destination": {"province": area.province, "city": area.city, "district": area.district,
                                "address": r[2], "address_type": r[3]},
                "sender": {"name": name, "phone": phone, "id_number": idn, "account_id": account,
                           "account_opened": opened, "id_verified": batch.verified[i]},
                "recipient": {"name": r[0], "phone": r[1], "address": r[2]},
                "contents": _contents(batch, i),
                "weight_g": weight[i],
                "length_cm": dims[i][0], "width_cm": dims[i][1], "height_cm": dims[i][2],
                "pieces": batch.pieces[i],
                "service": batch.service[i],
                "payment": batch.payment[i],
            }
            truth = {"parcel_id": waybills[i], "label": label[i], "p": float(p[i]), "pattern": batch.pattern[i],
                     "day": d}
            if self.cfg.pattern is not None and self.plan is not None:
                truth["new_pattern"] = self.plan.kind if batch.pattern[i] in self.plan.novel else None
            ctype = _weighted_one(batch.drugs[i], u_drug[i][0]) if label[i] else None
            lo, hi = batch.grams[i]
            outcome = {
                "parcel_id": waybills[i],
                "screened_at": screened_at[i],
                "result": "contraband" if label[i] else "clear",
                "contraband_type": ctype,
                "quantity_g": round(lo * (hi / lo) ** u_drug[i][1], 1) if label[i] else None,
                "source": "xray",
            }
            out.append((manifest, truth, outcome))
        return out

    def _waybills(self, rng: np.random.Generator, carriers: list[str], numbers: list[int]) -> list[str]:
        out = []
        for carrier, x in zip(carriers, numbers, strict=True):
            prefix, digits = _WAYBILL[carrier]
            wb = f"{prefix}{x % 10**digits:0{digits}d}"
            while wb in self._seen_waybills:
                wb = f"{prefix}{int(rng.integers(0, 10**digits)):0{digits}d}"
            self._seen_waybills.add(wb)
            out.append(wb)
        return out


def _reported_size(batch: _Batch, carriers: list[str], shifted: bool) -> tuple[list[int], list[tuple[int, int, int]]]:
    """What carriers report: SF/EMS weigh to 10 g; after the shift ZTO rounds up to 100 g and 5 cm."""
    w = np.array(batch.weight)
    d = np.array(batch.dims).reshape(-1, 3)
    car = np.array(carriers)
    w = np.where(np.isin(car, ["SF", "EMS"]), np.round(w / 10) * 10, np.round(w))
    dims = np.maximum(1, np.round(d))
    if shifted:
        zto = car == "ZTO"
        w = np.where(zto, np.ceil(w / 100) * 100, w)
        dims = np.where(zto[:, None], np.maximum(5, np.ceil(d / 5) * 5), dims)
    weights: list[int] = w.astype(np.int64).tolist()
    return weights, [(int(a), int(b), int(c)) for a, b, c in dims.astype(np.int64).tolist()]


def _contents(batch: _Batch, i: int) -> dict[str, Any]:
    contents: dict[str, Any] = {"description": batch.description[i], "category": batch.category[i]}
    if batch.hs[i] is not None:  # absent rather than null: most carriers omit the field
        contents["hs_code"] = batch.hs[i]
    contents["quantity"] = batch.qty[i]
    contents["declared_value"] = batch.value[i]
    contents["currency"] = "CNY"
    return contents


# --------------------------------------------------------------------------- ring behaviour


class _Ring:
    """A ring's running state: burnt and fresh identities, active drops, complicit outlets."""

    def __init__(self, spec: RingSpec, world: _World, start_day: int, stream: int) -> None:
        self.spec = spec
        self.world = world
        self.start_day = start_day
        # Each ring draws from its own stream, so the benign flow (a promo, say) never changes what the
        # rings ship, and adding the new ring leaves everything else as it was.
        self.rng = np.random.default_rng([world.cfg.seed, 1 + stream])
        self.ids = _Ids(self.rng, seen=world.ids.seen)
        self.origin_names, self.origin_cum = _table(spec.origins)
        self.dest_names, self.dest_cum = _table(spec.dest_cities)
        # Complicit outlets are real, busy outlets in the ring's main cities, so outlet volume is no tell.
        u = self.rng.random(2).tolist()
        self.complicit = [world.outlet_in(_CITY_INDEX[c], x) for c, x in zip(self.origin_names[:2], u, strict=False)]
        self.fronts: list[list[int]] = []  # [sender index, parcels left]
        self.drops: list[list[int]] = []  # [recipient index, parcels left, parcels so far]
        self.switch: tuple[int, RingSpec] | None = None  # (day, behaviour from that day): a new pattern

    def _switch(self, d: int) -> None:
        """From the switch day on, the ring ships as its new spec says (same origins and destinations);
        identities and drops in use are burnt as soon as the new spec would burn them."""
        if self.switch is None or d < self.switch[0]:
            return
        self.spec = spec = self.switch[1]
        self.switch = None
        for front in self.fronts:
            front[1] = min(front[1], spec.uses[1])
        for drop in self.drops:
            drop[1] = min(drop[1], spec.drop_uses[1])

    def _new_front(self, d: int) -> None:
        world = self.world
        rng = self.rng
        spec = self.spec
        ci = _CITY_INDEX[self.origin_names[int(_pick(rng, self.origin_cum, 1)[0])]]
        lo, hi = (60, 1500) if rng.random() < spec.aged else spec.account_age
        opened = d - int(rng.integers(lo, hi + 1))
        # Identities are bought or stolen anywhere, so the ID's province often differs from the origin.
        prov = ORIGINS[ci].province if rng.random() < 0.6 else _pick1(tuple(PROVINCE_CODES), rng.random())
        ids = self.ids
        ident = (ids.names(1)[0], ids.phones(1)[0], ids.id_numbers([prov])[0],
                 ids.accounts(1, business=spec.business)[0], world.dates([opened], 0.02, rng)[0])
        idx = world.senders.add(ident, opened, ci, world.outlet_in(ci, rng.random()))
        self.fronts.append([idx, int(rng.integers(spec.uses[0], spec.uses[1] + 1))])

    def _front(self, d: int) -> int:
        """A sender identity, burnt after a few parcels; usually two or three are in use at once."""
        rng = self.rng
        while len(self.fronts) < 2 or rng.random() < 0.1:
            self._new_front(d)
        k = int(rng.integers(len(self.fronts)))
        front = self.fronts[k]
        front[1] -= 1
        if front[1] <= 0:
            self.fronts.pop(k)
        return front[0]

    def _new_drop_recipient(self) -> int:
        world = self.world
        rng = self.rng
        if rng.random() < self.spec.mules:  # a real resident lends name, phone and history
            return int(_pick(rng, world.resident_cum, 1)[0])
        areas = world.city_areas[self.dest_names[int(_pick(rng, self.dest_cum, 1)[0])]]
        area = areas[int(rng.integers(len(areas)))]
        return world.new_recipients([area], _pick_names(rng, self.spec.address_types, 1), ids=self.ids)[0]

    def _drop(self) -> tuple[int, bool]:
        """Returns (recipient, first parcel to it): a new drop's first parcel is often a dry run."""
        rng = self.rng
        spec = self.spec
        if len(self.drops) < spec.drops:
            uses = int(rng.integers(spec.drop_uses[0], spec.drop_uses[1] + 1))
            self.drops.append([self._new_drop_recipient(), uses, 0])
            k = len(self.drops) - 1
        else:
            k = int(rng.integers(len(self.drops)))
        drop = self.drops[k]
        drop[1] -= 1
        drop[2] += 1
        if drop[1] <= 0:
            self.drops.pop(k)
        return drop[0], drop[2] == 1

    def _plan(self, d: int, lam: float) -> tuple[list[tuple[int, int, bool]], list[int]]:
        """Who sends to whom today, and when: (sender, recipient, dry run) rows and their seconds."""
        rng = self.rng
        spec = self.spec
        lo, hi = spec.hours[0] * 3600, spec.hours[1] * 3600
        plan: list[tuple[int, int, bool]] = []
        if spec.burst[1] == 1:
            for _ in range(int(rng.poisson(lam))):
                rec, first = self._drop()
                plan.append((self._front(d), rec, first))
            secs: list[int] = rng.integers(lo, hi, len(plan)).tolist()
            return plan, secs
        # Bursts: one fresh recipient gets several parcels, handed in within a few hours.
        secs = []
        for _ in range(int(rng.poisson(lam / (sum(spec.burst) / 2)))):
            rec = self._new_drop_recipient()
            front = self._front(d)
            start = int(rng.integers(lo, hi))
            for j in range(int(rng.integers(spec.burst[0], spec.burst[1] + 1))):
                if j and rng.random() < 0.3:
                    front = self._front(d)
                plan.append((front, rec, j == 0 and rng.random() < 0.5))
                secs.append(min(86399, start + int(rng.integers(0, 4 * 3600))))
        return plan, secs

    def emit(self, batch: _Batch, d: int, weekday: int) -> None:
        self._switch(d)
        world = self.world
        rng = self.rng
        spec = self.spec
        plan, secs = self._plan(d, spec.rate * world.scale * _WEEKDAY[weekday])
        n = len(plan)
        if n == 0:
            return
        profiles = np.full(n, _PROFILE_INDEX[spec.disguise], dtype=np.int64)
        if spec.cover:
            camouflaged = rng.random(n) < CAMOUFLAGE
            cover = np.array([_PROFILE_INDEX[k] for k in spec.cover], dtype=np.int64)
            profiles[camouflaged] = cover[rng.integers(0, len(cover), int(camouflaged.sum()))]
        u = rng.random((n, 3)).tolist()
        outlets = [
            _pick_int(self.complicit, r[1]) if r[0] < spec.complicit else world.outlet_in(world.senders.city[snd], r[2])
            for (snd, _, _), r in zip(plan, u, strict=True)
        ]
        dry = np.array([dry for _, _, dry in plan])
        batch.sec += secs
        batch.sender += [snd for snd, _, _ in plan]
        batch.recipient += [rec for _, rec, _ in plan]
        batch.outlet += outlets
        batch.add_goods(_draw_goods(rng, profiles, merchant=False))
        batch.pieces += [1] * n
        batch.service += _pick_names(rng, spec.service, n)
        batch.payment += _pick_names(rng, spec.payment, n)
        batch.verified += (rng.random(n) >= np.maximum(world.lapse[outlets], spec.unverified)).tolist()
        # Dry runs to a new drop and decoys carry less; p stays in roughly 0.15-0.8.
        p = rng.uniform(spec.p[0], spec.p[1], n) * np.where(dry, 0.5, 1.0)
        batch.add_truth(rng.random(n).tolist(), pattern=spec.pattern, p=p.tolist(), drugs=spec.drugs, grams=spec.grams)


def _pick_int(seq: Sequence[int], u: float) -> int:
    return seq[int(u * len(seq))]
