"""Claims on the screening queue: one holder per parcel under concurrency (SQLite and PostgreSQL), expiry,
hand-back, and an outcome that takes the parcel out of the queue and into the training data."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from models.manifest import Outcome, Reason
from scoring.store import Store
from tests.scoring.api_support import HUB, OTHER_HUB, record, seed

TTL = timedelta(minutes=15)
T = TypeVar("T")


def _together(workers: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``workers`` threads released at the same instant."""
    start = threading.Barrier(workers)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def test_many_claimers_of_one_parcel_leave_exactly_one_holder(store: Store) -> None:
    parcels = [f"P{i}" for i in range(10)]
    seed(store, [record(pid, score=0.5) for pid in parcels])
    now = datetime.now(UTC)

    def hammer(i: int) -> list[str]:
        return [pid for pid in parcels if store.claims.claim(pid, f"screener-{i}", TTL, now)]

    won = _together(8, hammer)
    winners = Counter(pid for got in won for pid in got)
    assert winners == Counter({pid: 1 for pid in parcels})  # every parcel claimed once, by one screener
    for i, got in enumerate(won):
        for pid in got:
            assert getattr(store.decisions.get(pid), "claimed_by", None) == f"screener-{i}"


def test_concurrent_claim_next_never_hands_out_a_parcel_twice(store: Store) -> None:
    seed(store, [record(f"N{i:02d}", score=i / 100) for i in range(40)] + [record("ELSEWHERE", hub_id=OTHER_HUB)])

    def drain(i: int) -> list[str]:
        taken = []
        while (pid := store.claims.claim_next(HUB, f"screener-{i}", TTL)) is not None:
            taken.append(pid)
        return taken

    taken = [pid for got in _together(6, drain) for pid in got]
    assert sorted(taken) == sorted(f"N{i:02d}" for i in range(40))  # all of them, none twice, no other hub's
    assert store.queue.waiting(HUB) == []
    audit = [e for i in range(40) for e in store.audit.for_parcel(f"N{i:02d}")]
    assert len(audit) == 40 and all(e.action == "claim" for e in audit)


def test_claim_next_and_claim_by_id_racing_still_give_one_holder_each(store: Store) -> None:
    seed(store, [record(f"R{i:02d}", score=0.9 - i / 100) for i in range(20)])

    def work(i: int) -> list[str]:
        if i % 2:
            return [f"R{j:02d}" for j in range(20) if store.claims.claim(f"R{j:02d}", f"s{i}", TTL)]
        taken = (store.claims.claim_next(HUB, f"s{i}", TTL) for _ in range(20))
        return [pid for pid in taken if pid is not None]

    taken = [pid for got in _together(6, work) for pid in got]
    assert Counter(taken) == Counter({f"R{i:02d}": 1 for i in range(20)})


def test_claim_next_takes_rule_hits_first_then_the_highest_score(store: Store) -> None:
    rule = [Reason(feature="rule", contribution=0.0, text="sender phone is on the watch-list")]
    seed(store, [record("LOW", score=0.1), record("HIGH", score=0.8),
                 record("RULE", why="rule", score=0.05, reasons=rule),
                 record("RELEASED", action="RELEASE", score=0.99, reasons=[])])
    order = [store.claims.claim_next(HUB, "wang", TTL) for _ in range(4)]
    assert order == ["RULE", "HIGH", "LOW", None]


def test_an_abandoned_claim_expires_and_the_parcel_returns_to_the_queue(store: Store) -> None:
    seed(store, [record("P1")])
    start = datetime.now(UTC)
    assert store.claims.claim("P1", "wang", TTL, start)
    assert store.queue.waiting(HUB, now=start + timedelta(minutes=5)) == []
    assert not store.claims.claim("P1", "li", TTL, start + timedelta(minutes=5))
    later = start + TTL + timedelta(seconds=1)
    assert [r.parcel_id for r in store.queue.waiting(HUB, now=later)] == ["P1"]
    assert store.queue.held_by("wang", HUB, later) == []
    assert store.claims.claim_next(HUB, "li", TTL, later) == "P1"
    assert getattr(store.decisions.get("P1"), "claimed_by", None) == "li"


def test_the_holder_renews_and_hands_back_others_cannot(store: Store) -> None:
    seed(store, [record("P1")])
    now = datetime.now(UTC)
    assert store.claims.claim("P1", "wang", TTL, now)
    assert store.claims.claim("P1", "wang", TTL, now + timedelta(minutes=10))  # renewing is claiming again
    assert not store.claims.release("P1", "li")
    assert store.claims.release("P1", "wang")
    assert [r.parcel_id for r in store.queue.waiting(HUB)] == ["P1"]
    assert [e.action for e in store.audit.for_parcel("P1")] == ["claim", "claim", "release"]


def test_an_outcome_takes_the_parcel_out_of_the_queue_and_into_the_training_data(store: Store) -> None:
    seed(store, [record("P1"), record("P2")])
    assert store.claims.claim_next(HUB, "wang", TTL) == "P1"  # equal scores: the older, then the lower id
    store.outcomes.record(Outcome(parcel_id="P1", screened_at=datetime.now(UTC), result="contraband",
                                 contraband_type="heroin", quantity_g=120.0), actor="wang")
    assert [r.parcel_id for r in store.queue.waiting(HUB)] == ["P2"]
    assert store.queue.held_by("wang") == []
    assert not store.claims.claim("P1", "li", TTL)
    labels = {r.parcel_id: r.label for r in store.reads.labelled_rows()}
    assert labels == {"P1": True, "P2": None}
