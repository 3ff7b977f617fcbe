"""Kinds of new pattern a generated world can grow on ``new_pattern_day``: what changes, and which parcels are new.

Role: the catalogue of surprises the closed-loop simulation measures recovery from. Each kind is a plan
the generator applies from the new-pattern day on: rings that start then (each on its own random stream,
so the rest of the world stays as it was) and existing rings whose behaviour switches then (their stream
continues, so every day before the switch is unchanged). Parcels of the patterns a plan names as new
are the ones the truth file marks (``new_pattern``) and the simulation's "new pattern caught" counts.

- ``ring`` (the world's original surprise): a Sichuan ring on dormant business accounts, shipping
  "electronics".
- ``route``: a combination route. Parcels from one origin city (Liuzhou), of one goods category
  (documents, packed exactly like benign documents), to one kind of address (homes), on aged, verified
  accounts paid ahead: none of the three was risky on its own before, and nothing about the
  identities gives them away either. Only the combination does.
- ``cover``: a new cover description. The larger Yunnan tea ring keeps its route, identities and drops
  but declares its parcels as books (a benign, innocuous line none of the rings used).
- ``rotation``: a ring rotating identities faster. The precursor ring, whose long-lived business
  fronts and repeat drops screening had learnt, switches to fresh personal accounts burnt after one to
  three parcels and drops replaced every two to four; it ships more as it does (5 a day at the base
  volume instead of 2), so the new pattern weighs in the catch as much as the other kinds' rings.
- ``hub_mix``: a hub whose mix changes. A new merchant flow of dried seafood from Beihai (Guangxi) into
  Sanya's hub (SYX-TIANYA) moves that hub's origin and category mix, and a ring rides in on it: the
  same city, the same goods, the same hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from training.world.tables import NEW_PATTERN, NEW_RING, RINGS, RingSpec

PATTERN_KINDS = ("ring", "route", "cover", "rotation", "hub_mix")


@dataclass(frozen=True)
class PatternPlan:
    """What a kind of new pattern changes from the new-pattern day on."""

    kind: str
    new_rings: tuple[RingSpec, ...] = ()  # rings that start on the day
    switches: dict[int, RingSpec] = field(default_factory=dict)  # index in RINGS -> behaviour from the day
    novel: frozenset[str] = frozenset()  # truth patterns of the new pattern's parcels


_ROUTE = RingSpec(
    pattern="liuzhou_documents", origins=(("Liuzhou", 1.0),), rate=5.0,
    disguise="documents", cover=("documents",),
    drugs=(("methamphetamine", .6), ("ketamine", .3), ("heroin", .1)), grams=(20, 300), p=(.45, .75),
    account_age=(30, 400), aged=.7, uses=(6, 14), unverified=.02,
    payment=(("prepaid", .9), ("business_account", .1)), service=(("express", .6), ("standard", .4)),
    address_types=(("home", 1.0),), dest_cities=(("Haikou", .6), ("Sanya", .3), ("Danzhou", .1)),
    drops=5, drop_uses=(3, 6), complicit=.1, mules=0.0,  # no mules: a mule's own address type would vary
)

_BOOKS = replace(RINGS[0], pattern="yunnan_books", disguise="books", cover=("books",))

_ROTATING = replace(
    RINGS[3], pattern="precursor_rotating", rate=5.0, account_age=(0, 4), aged=0.0, uses=(1, 3), business=False,
    payment=(("prepaid", .7), ("cash", .3)), drop_uses=(2, 4), drops=3,
)

_PRECURSOR_INDEX = 3

# The benign side of the hub's new mix: a few busy merchant accounts, years old, verified and on
# contract, shipping seafood to new customers at home. Its p is a merchant's usual low risk.
_SEAFOOD_FLOW = RingSpec(
    pattern="benign", origins=(("Beihai", 1.0),), rate=300.0,
    disguise="food", cover=("food",),
    drugs=(("methamphetamine", 1.0),), grams=(5, 50), p=(5e-5, 2e-4),
    account_age=(400, 2000), aged=1.0, uses=(150, 400), unverified=.01, business=True,
    payment=(("business_account", .9), ("prepaid", .1)), service=(("standard", .7), ("express", .3)),
    address_types=(("home", .85), ("business", .15)), dest_cities=(("Sanya", 1.0),),
    drops=60, drop_uses=(1, 2), complicit=0.0, mules=0.0, hours=(8, 20),
)

_SEAFOOD_RING = RingSpec(
    pattern="beihai_seafood", origins=(("Beihai", 1.0),), rate=5.0,
    disguise="food", cover=("food",),
    drugs=(("methamphetamine", .5), ("ketamine", .3), ("heroin", .2)), grams=(100, 1200), p=(.45, .75),
    account_age=(10, 90), aged=.3, uses=(4, 8), unverified=.05,
    payment=(("prepaid", .7), ("cash", .3)), service=(("standard", .7), ("express", .3)),
    address_types=(("home", .8), ("business", .2)), dest_cities=(("Sanya", 1.0),),
    drops=4, drop_uses=(3, 6), complicit=.2, mules=.3, hours=(8, 20),
)


def plan(kind: str) -> PatternPlan:
    """The plan for one kind of new pattern; a clear error names the kinds there are."""
    if kind == "ring":
        return PatternPlan(kind, new_rings=(NEW_RING,), novel=frozenset({NEW_PATTERN}))
    if kind == "route":
        return PatternPlan(kind, new_rings=(_ROUTE,), novel=frozenset({_ROUTE.pattern}))
    if kind == "cover":
        return PatternPlan(kind, switches={0: _BOOKS}, novel=frozenset({_BOOKS.pattern}))
    if kind == "rotation":
        return PatternPlan(kind, switches={_PRECURSOR_INDEX: _ROTATING}, novel=frozenset({_ROTATING.pattern}))
    if kind == "hub_mix":
        return PatternPlan(kind, new_rings=(_SEAFOOD_FLOW, _SEAFOOD_RING), novel=frozenset({_SEAFOOD_RING.pattern}))
    raise ValueError(f"unknown kind of new pattern {kind!r}: choose one of {', '.join(PATTERN_KINDS)}")
