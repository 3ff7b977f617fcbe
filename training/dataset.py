"""Training sets: a replayed labelled history (bootstrap) or the decision log joined with outcomes.

Both go through ``models.features`` exactly as serving does: the bootstrap replays every manifest
through a ``HistoryState`` in time order, counting each labelled parcel's outcome into its entities
``OUTCOME_DELAY_S`` after acceptance as a screening would (and hands that state to the store so live
scoring goes on where the history ends); retraining reads back the feature rows logged at decision time, so entity
history is as of the decision and never sees the parcel's future.
Labels are weighted by inverse propensity so that what the policy chose to screen does not
masquerade as the population; released parcels without a label are left out, never called clean
(the exploration labels, weighted up, stand for them). Unlabelled rows are still kept as a sample of
the population, which is what drift references and the policy's score window must describe.
"""

from __future__ import annotations

import gzip
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError

from models.features import FeatureBuilder, FeatureRow
from models.fields import FieldSpec
from models.history import EntityKeys, HistoryState
from models.manifest import Manifest
from scoring.policy import PolicyConfig
from scoring.store import Store
from training import field_types

log = logging.getLogger(__name__)

MIN_PROPENSITY = 0.005  # caps an exploration label's weight at 200
OUTCOME_DELAY_S = 2 * 3600.0  # a replayed history's screening outcome is known this long after acceptance
POPULATION_SAMPLE = 40_000  # latest in-scope rows kept (labelled or not) to describe the population
_COLUMNS = ("ids", "rows", "labels", "weights", "times", "whys")


@dataclass
class TrainingSet:
    """Feature rows with labels, IPW weights and event times, sorted by time; plus a population sample."""

    ids: list[str] = field(default_factory=list)
    rows: list[FeatureRow] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    whys: list[str] = field(default_factory=list)  # why the label exists: history, model, exploration, late...
    source: str = ""
    population: list[tuple[float, FeatureRow]] = field(default_factory=list)
    # A replayed history's rows from ``periods[0]`` on carry field stats frozen at the start of their
    # period (validation, then test), as a served model sees them; ``fresh`` holds their rows with
    # every earlier outcome counted, which the final refit learns from.
    periods: tuple[float, float] | None = None
    fresh: dict[str, FeatureRow] = field(default_factory=dict)
    spec: FieldSpec | None = None  # the manifest fields and stats its rows carry

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, parcel_id: str, row: FeatureRow, label: bool, weight: float, at: float, why: str = "history") -> None:
        self.whys.append(why)
        self.ids.append(parcel_id)
        self.rows.append(row)
        self.labels.append(int(label))
        self.weights.append(weight)
        self.times.append(at)

    def extend(self, other: TrainingSet) -> None:
        for name in _COLUMNS:
            getattr(self, name).extend(getattr(other, name))
        self.source = "+".join(filter(None, [self.source, other.source]))
        self.fresh = {**self.fresh, **other.fresh}
        self.spec = self.spec or other.spec
        self.population = sorted([*self.population, *other.population], key=lambda item: item[0])[-POPULATION_SAMPLE:]
        self.sort()

    def sort(self) -> None:
        order = sorted(range(len(self)), key=lambda i: (self.times[i], self.ids[i]))
        for name in _COLUMNS:
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in order])

    def subset(self, start: int, stop: int) -> TrainingSet:
        part = TrainingSet(source=self.source, fresh=self.fresh, spec=self.spec)
        for name in _COLUMNS:
            setattr(part, name, getattr(self, name)[start:stop])
        if start < stop:
            low, high = self.times[start], self.times[stop - 1]
            part.population = [(t, r) for t, r in self.population if low <= t <= high]
        return part

    def between(self, since: float | None = None, until: float | None = None) -> TrainingSet:
        """Rows with ``since <= time < until`` (epoch seconds)."""
        times = np.asarray(self.times)
        start = 0 if since is None else int(np.searchsorted(times, since, side="left"))
        stop = len(self) if until is None else int(np.searchsorted(times, until, side="left"))
        return self.subset(start, max(start, stop))

    def fresh_rows(self) -> list[FeatureRow]:
        return [self.fresh.get(pid, row) for pid, row in zip(self.ids, self.rows, strict=True)]

    def population_rows(self, since: float | None = None) -> list[FeatureRow]:
        """The population sample from ``since`` on; the labelled rows when no sample was kept."""
        rows = [r for t, r in self.population if since is None or t >= since]
        if rows:
            return rows
        return [r for t, r in zip(self.times, self.rows, strict=True) if since is None or t >= since]

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int8)

    @property
    def w(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    @property
    def positives(self) -> int:
        return int(sum(self.labels))

    def window(self) -> tuple[str, str]:
        if not self.times:
            return ("", "")
        return (datetime.fromtimestamp(self.times[0], UTC).isoformat(),
                datetime.fromtimestamp(self.times[-1], UTC).isoformat())


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """JSON lines of a file, gzip-compressed when its name ends in ``.gz``."""
    with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as handle:
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


@dataclass(frozen=True)
class FieldOptions:
    """How a bootstrap types the history's manifest fields (``training.field_types``)."""

    infer: bool = True
    max_pairs: int = 24
    overrides: dict[str, str] = field(default_factory=dict)
    valid_share: float = 0.15
    test_share: float = 0.15


def periods(times: Sequence[float], valid_share: float, test_share: float) -> tuple[float, float]:
    """Start times of the validation and test periods: the last shares of the labelled rows, by count
    (a replayed history's rows all weigh 1; ``training.train.split`` cuts at these times)."""
    ordered = sorted(times)
    if not ordered:
        return (0.0, 0.0)
    n = len(ordered)
    test_at = min(n - 1, int(n * (1 - test_share)))
    valid_at = min(test_at, int(n * (1 - test_share - valid_share)))
    return (ordered[valid_at], ordered[test_at])


def infer_fields(manifests: Iterator[Manifest], labels: dict[str, bool], builder: FeatureBuilder,
                 policy: PolicyConfig, options: FieldOptions) -> tuple[FieldSpec, tuple[float, float]]:
    """First pass over a history: type its fields on the labelled in-scope parcels before the test period."""
    rows, times, found = [], [], []
    for manifest in manifests:
        label = labels.get(manifest.parcel_id)
        if label is None or not policy.in_scope(manifest):
            continue
        rows.append(builder.fields(manifest))
        times.append(manifest.accepted_at.timestamp())
        found.append(int(label))
    cuts = periods(times, options.valid_share, options.test_share)
    t, y = np.asarray(times, dtype=float), np.asarray(found, dtype=float)
    before = t < cuts[1]
    spec = field_types.infer([r for r, keep in zip(rows, before, strict=True) if keep], t[before], y[before],
                             np.ones(int(before.sum())), cuts[0], options.max_pairs, overrides=options.overrides)
    log.info("manifest fields typed", extra={"numeric": len(spec.numeric), "categorical": len(spec.categorical),
                                             "identifier": len(spec.identifier), "pairs": len(spec.pairs)})
    return spec, cuts


def replay_history(
    manifests_path: Path,
    outcomes_path: Path,
    builder: FeatureBuilder,
    policy: PolicyConfig,
    history: HistoryState | None = None,
    progress: Callable[[int], None] | None = None,
    fields: FieldOptions | None = None,
) -> tuple[TrainingSet, HistoryState]:
    """Featurise a labelled history in time order; in-scope parcels with an outcome become rows.

    The fields are typed and the stats frozen as ``replay_typed`` says.
    """
    labels = read_labels(outcomes_path)
    fields = fields or FieldOptions()

    def manifests(report: bool = True) -> Iterator[Manifest]:
        for n, raw in enumerate(read_jsonl(manifests_path), 1):
            try:
                yield Manifest.model_validate(raw)
            except ValidationError as exc:
                raise ValueError(f"{manifests_path}: manifest {n} is invalid: {exc.errors()[0]['msg']}") from exc
            if report and progress is not None and n % 10000 == 0:
                progress(n)

    data, history = replay_typed(manifests, labels, builder, policy, history, fields)
    data.source = f"bootstrap:{manifests_path.name}"
    return data, history


def replay_typed(
    manifests: Callable[[bool], Iterator[Manifest]],
    labels: dict[str, bool],
    builder: FeatureBuilder,
    policy: PolicyConfig,
    history: HistoryState | None = None,
    fields: FieldOptions | None = None,
) -> tuple[TrainingSet, HistoryState]:
    """A labelled history as `parcelguard train` reads it: unless the builder has a spec already (or
    ``fields.infer`` is off), a first pass types its fields; the second builds the rows, freezing the field
    stats at the validation and test periods' starts so that early stopping and evaluation see rows as stale
    as served ones. ``manifests(replay)`` yields the history in time order, once per pass (``replay`` is
    False for the typing pass); the typed spec is the returned set's ``spec``."""
    fields = fields or FieldOptions()
    freeze: tuple[float, float] | None = None
    if builder.spec is None and fields.infer:
        spec, freeze = infer_fields(manifests(False), labels, builder, policy, fields)
        builder = builder.with_spec(spec)
    data, history = replay_manifests(manifests(True), labels, builder, policy, history, freeze_at=freeze or ())
    data.periods = freeze
    return data, history


def replay_manifests(
    manifests: Iterator[Manifest] | list[Manifest],
    labels: dict[str, bool],
    builder: FeatureBuilder,
    policy: PolicyConfig,
    history: HistoryState | None = None,
    freeze_at: Sequence[float] = (),
) -> tuple[TrainingSet, HistoryState]:
    """The replay itself, over validated manifests in time order (the simulator calls it directly).

    At each time of ``freeze_at`` the field stats' outcome counts are snapshot; rows from then on are
    kept as the snapshot sees them, with their fresh version in ``data.fresh``.
    """
    history = history or HistoryState()
    data = TrainingSet(source="bootstrap", spec=builder.spec)
    population: deque[tuple[float, FeatureRow]] = deque(maxlen=POPULATION_SAMPLE)
    # Screened parcels' outcomes, in the order they become known (a fixed delay keeps it time order).
    known: deque[tuple[float, EntityKeys, bool]] = deque()
    pending = sorted(freeze_at)
    for manifest in manifests:
        at = manifest.accepted_at.timestamp()
        while known and known[0][0] <= at:
            _, done, seized = known.popleft()
            history.record_outcome(done, 1, int(seized), at)
        while pending and pending[0] <= at:
            pending.pop(0)
            history.freeze()
        keys = builder.entity_keys(manifest)
        row, frozen = builder.build_with_frozen(manifest, history, keys)
        if not policy.in_scope(manifest):
            continue
        population.append((at, row))
        label = labels.get(manifest.parcel_id)
        if label is not None:
            if frozen is not None:
                data.fresh[manifest.parcel_id] = row
            data.add(manifest.parcel_id, frozen or row, label, 1.0, at)
            known.append((at + OUTCOME_DELAY_S, keys, label))
    for due, done, seized in known:  # known by the time live scoring continues from this history
        history.record_outcome(done, 1, int(seized), due)
    history.frozen = None
    data.population = list(population)
    data.sort()
    return data, history


def from_decision_log(store: Store, since: datetime | None = None, until: datetime | None = None) -> TrainingSet:
    """Labelled rows from the decision log, IPW-weighted; unlabelled released parcels are left out.

    Screened parcels weigh 1/propensity (1 for model and rule picks, about 1/0.005 for exploration).
    A late label on a released parcel weighs 1: it surfaced by being found, not by being sampled, so
    inflating it by the exploration odds would overstate it. Only outcomes already recorded count,
    so a training run never sees a label from after its own start.
    """
    data = TrainingSet(source="decision-log")
    population: deque[tuple[float, FeatureRow]] = deque(maxlen=POPULATION_SAMPLE)
    for row in store.reads.labelled_rows(since=since, until=until):
        if row.why == "out_of_scope":
            continue
        at = row.accepted_at.timestamp()
        population.append((at, row.features))
        if row.label is None:
            continue
        weight = 1.0 / max(row.propensity, MIN_PROPENSITY) if row.action == "SCREEN" else 1.0
        why = row.why if row.action == "SCREEN" else "late"
        data.add(row.parcel_id, row.features, row.label, weight, at, why)
    data.population = list(population)
    return data
