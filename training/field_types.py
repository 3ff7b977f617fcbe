"""Typing a history's manifest fields and choosing the field pairs worth an outcome rate.

Runs once per bootstrap, before the replay that builds the feature rows: the spec it returns tells
the one feature path which fields to read and which stats to keep (``models.fields``,
``models.field_stats``). Rules (docs/detection-2026-11.md has the measurements behind them):
- constant: dropped; numeric: a JSON number; hierarchical code: >= 95% all-digit strings of one
  length >= 4 (prefix levels 2, 4, ... typed by their own cardinality);
- identifier: > 250 distinct values (fewer on a small history: no more than its contraband labels,
  at least 32), or distinct on more than half the rows, or a name ending in
  ``id`` with more than 50 values (an id names an entity however few there are yet), or free text
  (two words or more on average): only its outcome rates reach the trees, never its raw value,
  so the trees cannot memorise a ring's outlets or wording;
- the contract's personal fields and its free-text description are identifiers however few values
  they have (``CONTRACT_TYPES``);
- categorical: other strings (native LightGBM categoricals);
- a string field that is a one-to-one copy of an earlier one is dropped (codes are kept first);
- pairs: every two string fields of different origin are candidates; the ``max_pairs`` whose
  as-of-time rate ranks the validation window best (AUC, rates frozen at the window's start) are kept:
  each pair is a store read and write per parcel on the scorer's hot path.
"""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.fields import MAX_CATEGORICAL, FieldSpec, FieldValue, base_of, expand, level, ratio_names
from models.parties import PERSONAL_BY_SECTION

_ID_MIN_DISTINCT = 50
MIN_CATEGORICAL = 32  # a categorical of this many values is kept native however few the positives
# What the contract itself says about a field, whatever a hub's values look like: personal fields
# (models.parties) and the free-text description name an entity or a wording, never a category.
CONTRACT_TYPES: dict[str, str] = {
    **{f"{section}.{name}": "identifier" for section, names in PERSONAL_BY_SECTION.items() for name in names},
    "contents.description": "identifier",
}
_TYPES = ("numeric", "categorical", "identifier", "drop")


def infer(
    rows: list[dict[str, FieldValue]], times: np.ndarray, labels: np.ndarray, weights: np.ndarray,
    valid_from: float, max_pairs: int = 24, m: float = 10.0, overrides: dict[str, str] | None = None,
) -> FieldSpec:
    """The spec of ``rows`` (flattened manifests of the labelled training rows, in time order)."""
    frame = pd.DataFrame.from_records(rows)
    spec = FieldSpec(m=m, prior=float(np.average(labels, weights=weights)) if len(labels) else 0.05)
    overrides = overrides or {}
    limit = categorical_limit(float(np.sum(labels)))
    for name in sorted(frame.columns, key=lambda n: (not _is_code(frame[n]), n)):
        kind = overrides.get(name) or _kind(name, frame[name], len(frame), limit)
        if kind == "categorical" and name in CONTRACT_TYPES:
            kind = CONTRACT_TYPES[name]
        if kind == "drop" or kind.startswith("constant"):
            spec.dropped[name] = kind
        elif kind == "numeric":
            spec.numeric.append(name)
        elif kind in ("categorical", "identifier"):
            getattr(spec, kind).append(name)
            if _is_code(frame[name]) and name not in overrides:
                width = int(frame[name].dropna().astype(str).str.len().mode().iloc[0])
                spec.codes[name] = list(range(2, width, 2))
        else:
            raise ValueError(f"field {name}: unknown type {kind!r} (expected one of {', '.join(_TYPES)})")
    expanded = pd.DataFrame.from_records([expand(row, spec) for row in rows])
    for name, lengths in spec.codes.items():
        for n in lengths:
            column = expanded[level(name, n)]
            kind = "identifier" if column.nunique() > limit else "categorical"
            getattr(spec, kind).append(level(name, n))
    spec.numeric += [name for name in ratio_names() if name in expanded and expanded[name].notna().any()]
    _drop_copies(spec, expanded)
    spec.singles = list(spec.identifier)
    spec.pairs = choose_pairs(spec, expanded, times, labels, weights, valid_from, max_pairs)
    return spec


def read_overrides(path: Path | None) -> dict[str, str]:
    """A spec file: ``{"field name": "numeric" | "categorical" | "identifier" | "drop"}``."""
    if path is None:
        return {}
    data: Any = json.loads(path.read_text())
    if not isinstance(data, dict) or any(v not in _TYPES for v in data.values()):
        raise ValueError(f"{path}: expected a JSON object of field name -> one of {', '.join(_TYPES)}")
    return {str(k): str(v) for k, v in data.items()}


def _is_code(column: pd.Series) -> bool:
    values = column.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.iloc[:50]):
        return False
    text = values.astype(str)
    lengths = text.str.len()
    return bool(text.str.fullmatch(r"\d{4,}").mean() >= 0.95 and (lengths == lengths.mode().iloc[0]).mean() >= 0.95)


def categorical_limit(positives: float) -> int:
    """Most distinct values a native categorical may have: ``MAX_CATEGORICAL``, but no more than the history
    has contraband labels (at least ``MIN_CATEGORICAL``). With a few dozen positives a 200-value categorical
    lets the trees single out the postcodes of the rings they saw; its as-of-time rate generalises."""
    return int(min(MAX_CATEGORICAL, max(MIN_CATEGORICAL, positives)))


def _kind(name: str, column: pd.Series, n: int, limit: int = MAX_CATEGORICAL) -> str:
    values = column.dropna()
    if values.astype(str).nunique() <= 1:
        return "constant"
    if all(isinstance(v, float) for v in values.iloc[:1000]):
        return "numeric"
    text = values.astype(str)
    distinct = text.nunique()
    words = float(text.str.count(" ").mean()) + 1.0
    named_id = name.rsplit(".", 1)[-1].endswith("id") and distinct > _ID_MIN_DISTINCT
    if distinct > limit or distinct > 0.5 * n or named_id or words >= 2.0:
        return "identifier"
    return "categorical"


def _drop_copies(spec: FieldSpec, frame: pd.DataFrame) -> None:
    kept: list[str] = []
    codes: dict[str, np.ndarray] = {}
    for name in spec.strings:
        codes[name], _ = pd.factorize(frame[name].astype("string").fillna("\x00"))
    for name in sorted(spec.strings, key=lambda n: (base_of(n) not in spec.codes, n)):
        twin = next((k for k in kept if _same(codes[k], codes[name])), None)
        if twin is None:
            kept.append(name)
        else:
            spec.dropped[name] = f"copy of {twin}"
    spec.categorical = [n for n in spec.categorical if n in kept]
    spec.identifier = [n for n in spec.identifier if n in kept]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    return na == nb and len(np.unique(a.astype(np.int64) * nb + b)) == na


def asof_rate(key: pd.Series, day: np.ndarray, labels: np.ndarray, weights: np.ndarray, cutoff: np.ndarray,
              prior: float, m: float) -> np.ndarray:
    """Per row: the key's m-estimate rate from labels of earlier days, never later than ``cutoff``."""
    codes, _ = pd.factorize(key)
    big = 1 << 20
    order = np.argsort(codes * big + day, kind="stable")
    events = (codes * big + day)[order]
    positives = np.concatenate([[0.0], np.cumsum((labels * weights)[order])])
    screened = np.concatenate([[0.0], np.cumsum(weights[order])])
    high = np.searchsorted(events, codes * big + np.minimum(day, cutoff), side="left")
    low = np.searchsorted(events, codes * big, side="left")
    rate = (positives[high] - positives[low] + m * prior) / (screened[high] - screened[low] + m)
    rate[codes < 0] = np.nan
    return rate


def weighted_auc(score: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """IPW-weighted ROC AUC of ``score`` (0.5 when one class is absent); missing scores are left out."""
    keep = ~np.isnan(score)
    if len(np.unique(labels[keep])) < 2:
        return 0.5
    return float(roc_auc_score(labels[keep], score[keep], sample_weight=weights[keep]))


def choose_pairs(spec: FieldSpec, frame: pd.DataFrame, times: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                 valid_from: float, max_pairs: int) -> list[tuple[str, str]]:
    """The ``max_pairs`` candidate pairs whose as-of-time rate best ranks the validation window."""
    if max_pairs <= 0 or len(frame) == 0:
        return []
    day = np.floor(times / 86400.0).astype(np.int64)
    valid = times >= valid_from
    if not valid.any() or labels[valid].sum() == 0:
        return []
    cutoff = np.where(valid, math.floor(valid_from / 86400.0), day)
    y, w = labels.astype(float), weights.astype(float)
    gains: list[tuple[float, tuple[str, str]]] = []
    for a, b in combinations(spec.strings, 2):
        if base_of(a) == base_of(b):
            continue
        key = frame[a].astype("string") + "\x1f" + frame[b].astype("string")
        rate = asof_rate(key, day, y * ~valid, w * ~valid, cutoff, spec.prior, spec.m)
        auc = weighted_auc(rate[valid], y[valid], w[valid])
        gains.append((abs(auc - 0.5), (a, b)))
    gains.sort(key=lambda item: -item[0])
    return [pair for gain, pair in gains[:max_pairs] if gain > 0.01]


def from_rows(rows: list[dict[str, Any]]) -> FieldSpec | None:
    """The spec a decision log's rows were built with (the champion's), read back from their names: typed
    fields (``f:``), stats (``rate:``), the prior (the rate of a key never screened). None without fields."""
    sample = rows[-5000:]
    names = dict.fromkeys(name for row in sample for name in row)
    fields = [n[2:] for n in names if n.startswith("f:")]
    if not fields:
        return None
    spec = FieldSpec()
    for name in fields:
        values = [row.get("f:" + name) for row in sample]
        strings = {v for v in values if isinstance(v, str)}
        if not strings:
            spec.numeric.append(name)
        else:
            (spec.identifier if len(strings) > MAX_CATEGORICAL else spec.categorical).append(name)
    for name in names:
        if name.startswith("rate:"):
            stat = name[5:]
            if "*" in stat:
                a, b = stat.split("*", 1)
                spec.pairs.append((a, b))
            else:
                spec.singles.append(stat)
            if spec.prior == FieldSpec().prior:
                unseen = [row[name] for row in sample if row.get("screened:" + stat) == 0.0]
                if unseen:
                    spec.prior = float(unseen[0])
    spec.identifier += [s for s in spec.singles if s not in spec.identifier and s in spec.categorical]
    spec.categorical = [c for c in spec.categorical if c not in spec.singles]
    return spec
