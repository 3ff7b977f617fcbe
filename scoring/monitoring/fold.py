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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from parcelguard.config import Settings
from scoring import capacity
from scoring.monitoring import binning, tally
from scoring.store import Store

log = logging.getLogger(__name__)
LOOKBACK = timedelta(hours=48)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Folded:
    """What one folding pass did."""

    hours: int
    decisions: int
    newest: datetime | None  # the newest hour folded so far


def stale_hours(store: Store, full: bool = False) -> list[datetime]:
    """Hours whose logged decisions differ from what was folded (every hour when ``full`` or never folded)."""
    folded = store.aggregates.folded_per_hour()
    since = None if full or not folded else max(folded) - LOOKBACK
    decided = store.aggregates.decided_per_hour(since)
    return sorted(hour for hour, n in decided.items() if folded.get(hour) != n)


def fold(settings: Settings, store: Store, layouts: Callable[[str], binning.Layout | None],
         full: bool = False, hours: list[datetime] | None = None) -> Folded:
    """Refold the stale hours (or ``hours``); each hour is its own transaction."""
    todo = stale_hours(store, full) if hours is None else hours
    in_force = capacity.in_force(store, settings)
    decided = 0
    for hour in todo:
        counts, histograms = tally.fold_hour(hour, store.aggregates.fold_rows(hour, hour + HOUR), layouts, in_force)
        store.aggregates.replace_hour(hour, counts, histograms)
        decided += sum(c.total for c in counts)
    if todo:
        log.info("monitoring aggregates folded", extra={"hours": len(todo), "decisions": decided})
    folded = store.aggregates.folded_per_hour()
    return Folded(len(todo), decided, max(folded) if folded else None)
