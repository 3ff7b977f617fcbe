"""The model wrapper: a LightGBM booster travelling with its feature schema and calibration.

Scoring takes numpy arrays in a fixed column order with categorical codes (the fast path measured
in docs/broker-notes.md); unseen categories become missing, so a value never seen in training scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from models.explain import phrase
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES, FEATURE_VERSION, NUMERIC_FEATURES, FeatureRow
from models.manifest import Reason


@dataclass
class FeatureSchema:
    """What a model needs besides its trees: column order, vocabularies, calibration, drift reference."""

    names: list[str] = field(default_factory=lambda: list(FEATURE_NAMES))
    categorical: list[str] = field(default_factory=lambda: list(CATEGORICAL_FEATURES))
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    calibration: tuple[float, float] = (1.0, 0.0)
    reference: dict[str, Any] = field(default_factory=dict)
    feature_version: int = FEATURE_VERSION  # the feature layout the model was trained on (models.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "categorical": self.categorical,
            "vocabularies": self.vocabularies,
            "calibration": list(self.calibration),
            "reference": self.reference,
            "feature_version": self.feature_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        a, b = data.get("calibration", (1.0, 0.0))
        return cls(
            names=list(data["names"]),
            categorical=list(data["categorical"]),
            vocabularies={k: list(v) for k, v in data["vocabularies"].items()},
            calibration=(float(a), float(b)),
            reference=dict(data.get("reference", {})),
            feature_version=int(data.get("feature_version", 1)),  # saved before versions were recorded
        )

    @property
    def categorical_indices(self) -> list[int]:
        return [self.names.index(name) for name in self.categorical]


class Encoder:
    """Turns feature rows into the float matrix LightGBM reads, with fixed categorical codes.

    Rows are always in today's layout (``FEATURE_NAMES``); a model trained on an older feature version
    reads its own columns from them by name, so a registered version-1 model still scores.
    """

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema
        self._codes = [
            {value: float(code) for code, value in enumerate(schema.vocabularies.get(name, []))}
            for name in schema.categorical
        ]
        self._n_numeric = len(schema.names) - len(schema.categorical)
        missing = [name for name in schema.names if name not in FEATURE_NAMES]
        if missing:
            raise ValueError(f"the model needs features this code does not compute: {missing}")
        same = schema.names == FEATURE_NAMES
        self._columns = None if same else [FEATURE_NAMES.index(name) for name in schema.names]

    def encode(self, rows: list[FeatureRow]) -> np.ndarray:
        if self._columns is not None:
            rows = [[row[j] for j in self._columns] for row in rows]
        n = self._n_numeric
        out = np.empty((len(rows), len(self.schema.names)), dtype=np.float64)
        for i, row in enumerate(rows):
            for j in range(n):
                value = row[j]
                out[i, j] = math.nan if value is None else float(value)
            for k, codes in enumerate(self._codes):
                value = row[n + k]
                out[i, n + k] = codes.get(value, math.nan) if isinstance(value, str) else math.nan
        return out


def build_vocabularies(rows: list[FeatureRow], min_count: int = 5) -> dict[str, list[str]]:
    """Categories seen at least ``min_count`` times, most frequent first; the rest score as missing."""
    n = len(NUMERIC_FEATURES)
    vocabularies: dict[str, list[str]] = {}
    for k, name in enumerate(CATEGORICAL_FEATURES):
        counts: dict[str, int] = {}
        for row in rows:
            value = row[n + k]
            if isinstance(value, str):
                counts[value] = counts.get(value, 0) + 1
        kept = sorted((v for v, c in counts.items() if c >= min_count), key=lambda v: (-counts[v], v))
        vocabularies[name] = kept[:250]
    return vocabularies


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class RiskModel:
    """A scoring model as served: booster, schema, and where it came from."""

    booster: lgb.Booster
    schema: FeatureSchema
    name: str = "local"
    version: str = "0"

    def __post_init__(self) -> None:
        self.encoder = Encoder(self.schema)

    def margins(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=True, num_threads=1), dtype=np.float64)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of contraband for each encoded row."""
        a, b = self.schema.calibration
        return sigmoid(a * self.margins(X) + b)

    def score_rows(self, rows: list[FeatureRow]) -> np.ndarray:
        return self.score(self.encoder.encode(rows)) if rows else np.empty(0)

    def explain(self, rows: list[FeatureRow], top_k: int = 3) -> list[list[Reason]]:
        """Top positive contributions per row (TreeSHAP, ~100x the cost of a score: call sparingly)."""
        if not rows:
            return []
        X = self.encoder.encode(rows)
        contributions = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))
        names = self.schema.names
        explained: list[list[Reason]] = []
        for row, contrib in zip(rows, contributions, strict=True):
            values = dict(zip(FEATURE_NAMES, row, strict=True))  # rows are in today's layout, whatever the model reads
            order = np.argsort(-contrib[:-1])[:top_k]
            explained.append(
                [
                    Reason(feature=names[j], contribution=round(float(contrib[j]), 6), text=phrase(names[j], values))
                    for j in order
                    if contrib[j] > 0
                ]
            )
        return explained
