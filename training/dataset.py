"""Training sets: a replayed labelled history (bootstrap) or the decision log joined with outcomes.

Both go through ``models.features`` exactly as serving does: the bootstrap replays every manifest
through a ``HistoryState`` in time order (and hands that state to the store so live scoring goes on
where the history ends); retraining reads back the feature rows logged at decision time.
Labels are weighted by inverse propensity so that what the policy chose to screen does not
masquerade as the population; released parcels without a label are left out, never called clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError

from models.features import FeatureBuilder, FeatureRow
from models.history import HistoryState
from models.manifest import Manifest
from scoring.policy import PolicyConfig
from scoring.store import Store

MIN_PROPENSITY = 0.005  # caps an exploration label's weight at 200


@dataclass
class TrainingSet:
    """Feature rows with labels, IPW weights and event times, sorted by time."""

    ids: list[str] = field(default_factory=list)
    rows: list[FeatureRow] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, parcel_id: str, row: FeatureRow, label: bool, weight: float, at: float) -> None:
        self.ids.append(parcel_id)
        self.rows.append(row)
        self.labels.append(int(label))
        self.weights.append(weight)
        self.times.append(at)

    def extend(self, other: TrainingSet) -> None:
        for name in ("ids", "rows", "labels", "weights", "times"):
            getattr(self, name).extend(getattr(other, name))
        self.source = "+".join(filter(None, [self.source, other.source]))
        self.sort()

    def sort(self) -> None:
        order = sorted(range(len(self)), key=lambda i: (self.times[i], self.ids[i]))
        for name in ("ids", "rows", "labels", "weights", "times"):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in order])

    def subset(self, start: int, stop: int) -> TrainingSet:
        return TrainingSet(self.ids[start:stop], self.rows[start:stop], self.labels[start:stop],
                           self.weights[start:stop], self.times[start:stop], self.source)

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int8)

    @property
    def w(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    def window(self) -> tuple[str, str]:
        if not self.times:
            return ("", "")
        return (datetime.fromtimestamp(self.times[0], UTC).isoformat(),
                datetime.fromtimestamp(self.times[-1], UTC).isoformat())


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{line_number}: not JSON ({exc})") from exc


def read_labels(outcomes_path: Path) -> dict[str, bool]:
    """Per parcel: contraband if any outcome says so."""
    labels: dict[str, bool] = {}
    for outcome in read_jsonl(outcomes_path):
        pid = str(outcome["parcel_id"])
        labels[pid] = labels.get(pid, False) or outcome.get("result") == "contraband"
    return labels


def replay_history(
    manifests_path: Path,
    outcomes_path: Path,
    builder: FeatureBuilder,
    policy: PolicyConfig,
    history: HistoryState | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[TrainingSet, HistoryState]:
    """Featurise a labelled history in time order; in-scope parcels with an outcome become rows."""
    labels = read_labels(outcomes_path)
    history = history or HistoryState()
    data = TrainingSet(source=f"bootstrap:{manifests_path.name}")
    for n, raw in enumerate(read_jsonl(manifests_path), 1):
        try:
            manifest = Manifest.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{manifests_path}: manifest {n} is invalid: {exc.errors()[0]['msg']}") from exc
        row = builder.build(manifest, history)
        label = labels.get(manifest.parcel_id)
        in_scope = policy.in_scope(manifest.origin.province, manifest.origin.city, manifest.destination.province)
        if in_scope and label is not None:
            data.add(manifest.parcel_id, row, label, 1.0, manifest.accepted_at.timestamp())
        if progress is not None and n % 10000 == 0:
            progress(n)
    data.sort()
    return data, history


def from_decision_log(store: Store, since: datetime | None = None) -> TrainingSet:
    """Labelled rows from the decision log, IPW-weighted; unlabelled released parcels are left out.

    Screened parcels weigh 1/propensity. A late label on a released parcel weighs 1: it surfaced by
    being found, not by being sampled, so inflating it by the exploration odds would overstate it.
    """
    data = TrainingSet(source="decision-log")
    for row in store.labelled_rows(since=since):
        if row.label is None or row.why == "out_of_scope":
            continue
        weight = 1.0 / max(row.propensity, MIN_PROPENSITY) if row.action == "SCREEN" else 1.0
        data.add(row.parcel_id, row.features, row.label, weight, row.accepted_at.timestamp())
    return data


