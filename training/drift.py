"""Drift statistics against a model's training reference (Evidently's conventions, computed here).

Numeric features: PSI over the reference's decile bins (drift when PSI > 0.2) and the Wasserstein
distance normalised by the reference's standard deviation (drift when > 0.1). Categorical features:
Jensen–Shannon distance over the reference's top categories plus "other" (drift when > 0.1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureRow

PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1
WASSERSTEIN_THRESHOLD = 0.1
EPS = 1e-4
SAMPLE = 2000


def _numeric_column(rows: list[FeatureRow], j: int) -> np.ndarray:
    values = np.array([row[j] if row[j] is not None else math.nan for row in rows], dtype=float)
    return values[~np.isnan(values)]


def profile(rows: list[FeatureRow], scores: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """A compact reference: decile edges and shares, a value sample, category shares, a score sample."""
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {"numeric": {}, "categorical": {}, "rows": len(rows)}
    for j, name in enumerate(NUMERIC_FEATURES):
        values = _numeric_column(rows, j)
        if len(values) == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)))
        counts = np.histogram(values, bins=edges)[0] if len(edges) > 1 else np.array([len(values)])
        sample = rng.choice(values, size=min(SAMPLE, len(values)), replace=False)
        reference["numeric"][name] = {
            "edges": edges.tolist(),
            "shares": (counts / counts.sum()).tolist(),
            "missing": 1 - len(values) / max(1, len(rows)),
            "std": float(np.std(values)),
            "sample": np.round(sample, 6).tolist(),
        }
    offset = len(NUMERIC_FEATURES)
    for k, name in enumerate(CATEGORICAL_FEATURES):
        frequency: dict[str, int] = {}
        for row in rows:
            key = str(row[offset + k]) if row[offset + k] is not None else "(missing)"
            frequency[key] = frequency.get(key, 0) + 1
        top = sorted(frequency, key=lambda c: -frequency[c])[:20]
        total = max(1, len(rows))
        shares = {c: frequency[c] / total for c in top}
        shares["(other)"] = 1 - sum(shares.values())
        reference["categorical"][name] = shares
    if scores is not None and len(scores):
        reference["score_sample"] = np.round(np.quantile(scores, np.linspace(0, 1, 2000)), 8).tolist()
    return reference


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected, EPS, None)
    a = np.clip(actual, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(reference: dict[str, Any], rows: list[FeatureRow]) -> list[dict[str, Any]]:
    """Per-feature drift of ``rows`` against ``reference``, drifted features first, then by size."""
    results: list[dict[str, Any]] = []
    for j, name in enumerate(NUMERIC_FEATURES):
        ref = reference.get("numeric", {}).get(name)
        if ref is None:
            continue
        values = _numeric_column(rows, j)
        if len(values) == 0:
            continue
        edges = np.asarray(ref["edges"], dtype=float)
        if len(edges) > 1:
            clipped = np.clip(values, edges[0], edges[-1])
            counts = np.histogram(clipped, bins=edges)[0]
            value_psi = psi(np.asarray(ref["shares"]), counts / max(1, counts.sum()))
        else:
            value_psi = 0.0 if np.all(values == edges[0]) else math.inf
        std = ref["std"] or 1.0
        distance = wasserstein_distance(np.asarray(ref["sample"]), values) / std
        results.append({"feature": name, "kind": "numeric", "method": "psi", "value": value_psi,
                        "threshold": PSI_THRESHOLD, "drifted": value_psi > PSI_THRESHOLD,
                        "wasserstein": distance})
    offset = len(NUMERIC_FEATURES)
    for k, name in enumerate(CATEGORICAL_FEATURES):
        ref_shares = reference.get("categorical", {}).get(name)
        if ref_shares is None:
            continue
        seen = dict.fromkeys(ref_shares, 0)
        for row in rows:
            key = str(row[offset + k]) if row[offset + k] is not None else "(missing)"
            seen[key if key in seen else "(other)"] += 1
        total = max(1, sum(seen.values()))
        expected = np.array([ref_shares[c] for c in seen]) + EPS
        actual = np.array([seen[c] / total for c in seen]) + EPS
        distance = float(jensenshannon(expected, actual, base=2))
        results.append({"feature": name, "kind": "categorical", "method": "jensen_shannon", "value": distance,
                        "threshold": JS_THRESHOLD, "drifted": distance > JS_THRESHOLD})
    results.sort(key=lambda r: (not r["drifted"], -(r["value"] / r["threshold"])))
    return results


def score_drift(reference: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    """PSI of the score distribution over the reference's score deciles."""
    sample = np.asarray(reference.get("score_sample", []), dtype=float)
    if len(sample) == 0 or len(scores) == 0:
        return {"method": "psi", "value": math.nan, "threshold": PSI_THRESHOLD, "drifted": False}
    edges = np.unique(np.quantile(sample, np.linspace(0, 1, 11)))
    expected = np.histogram(np.clip(sample, edges[0], edges[-1]), bins=edges)[0] / len(sample)
    actual = np.histogram(np.clip(scores, edges[0], edges[-1]), bins=edges)[0] / len(scores)
    value = psi(expected, actual)
    return {"method": "psi", "value": value, "threshold": PSI_THRESHOLD, "drifted": value > PSI_THRESHOLD}
