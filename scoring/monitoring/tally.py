"""Decisions folded into hourly aggregates, and hourly aggregates summed into windows: pure, no store.

The monitoring job folds the decision log hour by hour with ``fold_hour``; the report sums the hours of
each window with ``Window``. Labels (what outcomes say) are folded per hour in SQL by the store
(``Aggregates.replace_labels``), refolded as outcomes arrive after an hour closes; windows sum them here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from models.features import FeatureRow
from scoring.monitoring import binning
from scoring.store.aggregates import FoldRow, HourCounts, HourHistogram, LabelSums

IN_SERVICE, SHADOW = "in service", "shadow"


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def fold_hours(rows: Iterable[FoldRow], layouts: Callable[[str], binning.Layout | None],
               capacity: Mapping[str, int]) -> dict[datetime, tuple[list[HourCounts], list[HourHistogram]]]:
    """Decisions as counts per (hour, hub, acting version) and histograms per (hour, hub, version, role).

    ``capacity``: screenings per hour in force now, by hub (hours are folded as they close, so this is the
    capacity they were screened at)."""
    counts: dict[tuple[datetime, str, str], HourCounts] = {}
    groups: dict[tuple[datetime, str, str, str], int] = {}  # (hour, hub, version, role) -> group number
    by_version: dict[str, tuple[list[FeatureRow], list[float | None], list[int]]] = {}
    for row in rows:
        hour = hour_of(row.accepted_at)
        key = (hour, row.hub_id, row.model_version or "")
        tally = counts.get(key)
        if tally is None:
            tally = counts[key] = HourCounts(hour, row.hub_id, row.model_version or "", flagged_by_why={},
                                             by_origin={}, capacity_per_hour=capacity.get(row.hub_id))
        tally.total += 1
        origin = row.origin_province or "(unknown)"
        assert tally.by_origin is not None and tally.flagged_by_why is not None
        tally.by_origin[origin] = tally.by_origin.get(origin, 0) + 1
        if row.why == "out_of_scope":
            continue
        tally.in_scope += 1
        if row.action == "SCREEN":
            tally.flagged_by_why[row.why] = tally.flagged_by_why.get(row.why, 0) + 1
        else:
            tally.released += 1
        if row.features is None:
            continue
        for version, role, score in ((row.model_version, IN_SERVICE, row.score),
                                     (row.shadow_version, SHADOW, row.shadow_score)):
            if version is not None:
                group = groups.setdefault((hour, row.hub_id, str(version), role), len(groups))
                found = by_version.setdefault(str(version), ([], [], []))
                found[0].append(row.features)
                found[1].append(score)
                found[2].append(group)
    folded: dict[datetime, tuple[list[HourCounts], list[HourHistogram]]] = {}
    for c in counts.values():
        folded.setdefault(c.hour_start, ([], []))[0].append(c)
    for version, (feature_rows, scores, numbers) in by_version.items():
        shape = layouts(version)
        if shape is None:  # no reference (registry down, unknown version): counts only, drift not judged
            continue
        wanted = sorted({g for g in numbers})
        local = {g: i for i, g in enumerate(wanted)}
        matrix = binning.count_groups(shape, feature_rows, scores, np.array([local[g] for g in numbers]), len(wanted))
        sizes = np.bincount([local[g] for g in numbers], minlength=len(wanted))
        for (hour, hub, v, role), g in groups.items():
            if v == version:
                folded[hour][1].append(HourHistogram(hour, hub, version, role, shape.id, int(sizes[local[g]]),
                                                     matrix[local[g]]))
    return folded


@dataclass
class Window:
    """One window and scope: its hourly counts, histograms and labels summed."""

    total: int = 0
    in_scope: int = 0
    released: int = 0
    flagged: Counter[str] = field(default_factory=Counter)
    by_origin: Counter[str] = field(default_factory=Counter)
    capacities: dict[tuple[datetime, str], int] = field(default_factory=dict)  # (hour, hub) -> per hour
    hubs: set[str] = field(default_factory=set)
    # (version, role) -> [bins_id, rows, summed counts]
    histograms: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    labels: LabelSums = field(default_factory=LabelSums)

    def add_counts(self, c: HourCounts) -> None:
        self.total += c.total
        self.in_scope += c.in_scope
        self.released += c.released
        self.flagged.update(c.flagged_by_why or {})
        self.by_origin.update(c.by_origin or {})
        self.hubs.add(c.hub_id)
        if c.capacity_per_hour is not None:
            self.capacities[(c.hour_start, c.hub_id)] = c.capacity_per_hour

    def add_histogram(self, h: HourHistogram) -> None:
        key = (h.model_version, h.role)
        found = self.histograms.get(key)
        if found is None:
            self.histograms[key] = [h.bins_id, h.rows, h.counts.copy()]
        elif found[0] == h.bins_id:
            found[1] += h.rows
            found[2] += h.counts
        else:  # the version's reference changed its bins mid-window: the window cannot be summed
            found[0] = ""

    def capacity(self, hub: str, seconds: float, share: float, in_scope: int) -> float:
        """Screenings the hub could make over ``seconds``: the mean capacity in force over its folded hours,
        else (no capacity known) ``share`` of its in-scope parcels."""
        per_hour = [v for (_, h), v in self.capacities.items() if h == hub]
        return float(np.mean(per_hour)) * seconds / 3600.0 if per_hour else share * in_scope
