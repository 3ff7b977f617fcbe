"""Folding the decision log into hourly aggregates: which hours changed, and refolding them whole.

An hour is refolded when the decisions logged in it no longer match the count folded (new decisions, a
late batch from another scorer); its label sums also when outcomes of its decisions are recorded (they
arrive after the hour closes). Either is recomputed from the log and replaced, never added to, so a
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
from datetime import UTC, datetime, timedelta

from parcelguard.config import Settings
from scoring import capacity
from scoring.monitoring import binning, tally
from scoring.store import Store
from scoring.store.aggregates import LABELS, FoldRow

log = logging.getLogger(__name__)
LOOKBACK = timedelta(hours=48)
HOUR = timedelta(hours=1)
BATCH_HOURS = 24  # hours folded per query and transaction
OUTCOME_MARGIN = timedelta(minutes=10)  # how far each pass rereads outcomes recorded before its watermark
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the watermark of a store with no outcomes yet


@dataclass(frozen=True)
class Folded:
    """What one folding pass did."""

    hours: int
    decisions: int
    newest: datetime | None  # the newest hour folded so far
    label_hours: int = 0  # hours whose label sums were refolded


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
    labelled = fold_labels(store, todo)
    if todo or labelled:
        log.info("monitoring aggregates folded", extra={"hours": len(todo), "decisions": decided,
                                                        "label_hours": labelled})
    known = store.aggregates.folded_per_hour()
    return Folded(len(todo), decided, max(known) if known else None, labelled)


def fold_labels(store: Store, refolded: list[datetime]) -> int:
    """Refold the label sums of the hours whose counts were just refolded and of those with outcomes recorded
    since the last pass (every hour with decisions, the first time); returns how many hours were refolded.

    The watermark is the newest ``recorded_at`` read *before* the sums, so an outcome recorded meanwhile is
    caught by the next pass; each pass looks back ``OUTCOME_MARGIN`` before it, for an outcome whose
    transaction committed after a newer one was read (or a clock a little behind). It never runs ahead of this
    process's clock: an outcome dated in the future (a skewed clock) would otherwise hide those recorded before
    that time."""
    aggregates = store.aggregates
    mark = aggregates.watermark(LABELS)
    newest = aggregates.newest_outcome()
    now = datetime.now(UTC)
    if mark is None:
        hours = set(aggregates.decided_per_hour())
    else:
        hours = set(refolded) | aggregates.labelled_hours(mark - OUTCOME_MARGIN)
    for batch in _batches(sorted(hours)):
        aggregates.replace_labels(batch)
    aggregates.set_watermark(LABELS, min(newest, now) if newest is not None else (mark or EPOCH))
    return len(hours)


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
