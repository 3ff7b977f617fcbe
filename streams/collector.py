"""The garbage collector's settings for a process that runs one scorer (``parcelguard score``).

A batch of 1,000 parcels allocates hundreds of thousands of short-lived objects (rows, stats, dicts), which at
CPython's default thresholds ran ~120 collections per 1,000 parcels, each walking every live object: the model,
the hash and category caches. Measured in-process (``scripts/scorer_profile.py``): ~300-470 µs of a parcel's
wall time at the defaults, ~40-90 µs with these settings (docs/performance-2026-11.md).
"""

from __future__ import annotations

import gc

# Allocations between automatic collections of the youngest generation (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc_for_batches() -> None:
    """Freeze what start-up built (never rescanned again) and collect the young generation less often.

    Reference counting still frees almost everything at once; only reference cycles wait a little longer.
    Process-wide: call it only in a process whose job is scoring, never in a library or a test session.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
