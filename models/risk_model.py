"""The model wrapper: a LightGBM booster travelling with its feature schema and calibration.

Rows are name -> value mappings; the schema says which names the trees read, in which column order,
and the spec of the manifest fields and field stats the feature path must compute for this model.
Scoring takes numpy arrays in that order with categorical codes (the fast path measured in
docs/broker-notes.md); unseen categories and absent features become missing, so any row scores.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from models.explain import phrase
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES, FEATURE_VERSION, FeatureRow
from models.fields import FieldSpec
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
    fields: FieldSpec | None = None  # manifest fields and field stats the feature path computes for it
    details: dict[str, Any] = field(default_factory=dict)  # how it was chosen: variant, parameters, rounds

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "categorical": self.categorical,
            "vocabularies": self.vocabularies,
            "calibration": list(self.calibration),
            "reference": self.reference,
            "feature_version": self.feature_version,
            "fields": None if self.fields is None else self.fields.to_dict(),
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        a, b = data.get("calibration", (1.0, 0.0))
        spec = data.get("fields")
        return cls(
            names=list(data["names"]),
            categorical=list(data["categorical"]),
            vocabularies={k: list(v) for k, v in data["vocabularies"].items()},
            calibration=(float(a), float(b)),
            reference=dict(data.get("reference", {})),
            feature_version=int(data.get("feature_version", 1)),  # saved before versions were recorded
            fields=None if spec is None else FieldSpec.from_dict(spec),
            details=dict(data.get("details", {})),
        )

    @property
    def categorical_indices(self) -> list[int]:
        return [self.names.index(name) for name in self.categorical]


class Encoder:
    """Turns feature rows into the float matrix LightGBM reads, by name, with fixed categorical codes.

    Columns are read by name, so a model trained on an older feature version reads its own columns
    from today's rows and still scores; a name a row lacks, or a value of the wrong kind, is missing.
    """

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema
        categorical = set(schema.categorical)
        self._numeric = [(j, name) for j, name in enumerate(schema.names) if name not in categorical]
        self._codes = [
            (schema.names.index(name),
             name, {value: float(code) for code, value in enumerate(schema.vocabularies.get(name, []))})
            for name in schema.categorical
        ]

    def encode(self, rows: list[FeatureRow]) -> np.ndarray:
        out = np.full((len(rows), len(self.schema.names)), math.nan, dtype=np.float64)
        for i, row in enumerate(rows):
            for j, name in self._numeric:
                value = row.get(name)
                if isinstance(value, float | int):
                    out[i, j] = value
            for j, name, codes in self._codes:
                value = row.get(name)
                if isinstance(value, str):
                    out[i, j] = codes.get(value, math.nan)
        return out


def build_vocabularies(rows: list[FeatureRow], names: list[str] | None = None, min_count: int = 5,
                       cap: int = 250) -> dict[str, list[str]]:
    """Categories seen at least ``min_count`` times, most frequent first; the rest score as missing."""
    vocabularies: dict[str, list[str]] = {}
    for name in names if names is not None else CATEGORICAL_FEATURES:
        counts: dict[str, int] = {}
        for row in rows:
            value = row.get(name)
            if isinstance(value, str):
                counts[value] = counts.get(value, 0) + 1
        kept = sorted((v for v, c in counts.items() if c >= min_count), key=lambda v: (-counts[v], v))
        vocabularies[name] = kept[:cap]
    return vocabularies


def booster_names(names: list[str]) -> list[str]:
    """Column names LightGBM accepts (no JSON punctuation), unique by position; rows keep the real names."""
    return [f"c{j}_" + re.sub(r"[^0-9A-Za-z_]+", "_", name) for j, name in enumerate(names)]


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
        spec = self.schema.fields
        prior, m = (spec.prior, spec.m) if spec is not None else (0.0, 10.0)
        explained: list[list[Reason]] = []
        for values, contrib in zip(rows, contributions, strict=True):
            order = np.argsort(-contrib[:-1])[:top_k]
            explained.append(
                [
                    Reason(feature=names[j], contribution=round(float(contrib[j]), 6),
                           text=phrase(names[j], values, prior, m))
                    for j in order
                    if contrib[j] > 0
                ]
            )
        return explained
