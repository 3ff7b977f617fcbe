"""Folding the decision log into hourly aggregates: which hours changed, and refolding them whole.

An hour is refolded when the decisions logged in it no longer match the count folded (new decisions, a
late batch from another scorer); it is recomputed from the log and replaced, never added to, so a
replayed parcel (kept once by the log) or a job run twice cannot count anything twice. A normal pass
looks back ``LOOKBACK`` from the newest folded hour (one indexed range count); the first pass on a
store, and ``full=True``, compare every hour (the backfill of a store that was never folded).

Why a job and not the scorer's batch write: the scorers stay as fast as they were (nothing added to
their transaction), several scorers never contend on the same aggregate rows, the bins come from the
model's training reference (in the registry, which scorers do not read), and whole-hour replacement
stays right under replays and retries where per-batch increments would count a replayed batch again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from parcelguard.config import Settings
from scoring import capacity
from scoring.monitoring import binning, tally
from scoring.store import Store
from scoring.store.aggregates import FoldRow

log = logging.getLogger(__name__)
LOOKBACK = timedelta(hours=48)
HOUR = timedelta(hours=1)
BATCH_HOURS = 24  # hours folded per query and transaction


@dataclass(frozen=True)
class Folded:
    """What one folding pass did."""

    hours: int
    decisions: int
    newest: datetime | None  # the newest hour folded so far


def stale_hours(store: Store, full: bool = False, refold: bool = False) -> list[datetime]:
    """Hours whose logged decisions differ from what was folded (every hour compared when ``full`` or never
    folded); with ``refold``, every hour of the log (say after a registry outage left hours without histograms)."""
    folded = store.aggregates.folded_per_hour()
    since = None if full or refold or not folded else max(folded) - LOOKBACK
    decided = store.aggregates.decided_per_hour(since)
    return sorted(hour for hour, n in decided.items() if refold or folded.get(hour) != n)


def fold(settings: Settings, store: Store, layouts: Callable[[str], binning.Layout | None],
         full: bool = False, refold: bool = False) -> Folded:
    """Refold the stale hours (``stale_hours``), a day's worth per query and transaction."""
    todo = stale_hours(store, full, refold)
    in_force = capacity.in_force(store, settings)
    decided = 0
    for batch in _batches(todo):
        folded = tally.fold_hours(_rows(store, batch), layouts, in_force)
        store.aggregates.replace_hours(batch, folded)
        decided += sum(c.total for counts, _ in folded.values() for c in counts)
    if todo:
        log.info("monitoring aggregates folded", extra={"hours": len(todo), "decisions": decided})
    known = store.aggregates.folded_per_hour()
    return Folded(len(todo), decided, max(known) if known else None)


def _batches(hours: list[datetime]) -> Iterator[list[datetime]]:
    """Stale hours in runs of at most ``BATCH_HOURS`` within one span, read with one query each."""
    batch: list[datetime] = []
    for hour in hours:
        if batch and (len(batch) >= BATCH_HOURS or hour - batch[0] >= BATCH_HOURS * HOUR):
            yield batch
            batch = []
        batch.append(hour)
    if batch:
        yield batch


def _rows(store: Store, batch: list[datetime]) -> Iterator[FoldRow]:
    wanted = set(batch)
    for row in store.aggregates.fold_rows(batch[0], batch[-1] + HOUR):
        if tally.hour_of(row.accepted_at) in wanted:
            yield row
