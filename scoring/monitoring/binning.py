"""Bins fixed by a model version's training reference, and drift judged on binned counts.

The monitoring job folds every decision into per-hour histograms (``scoring.monitoring.fold``); the pages
sum them and judge the sums here, so no request decodes a feature row. One ``Layout`` per model version
lays every histogram out as one flat vector of counts:

- numeric features: fine bins (the reference sample's quantiles, or its distinct values when few) that also
  hold every edge of the reference's own deciles, overall and per hub, plus a missing bin; the deciles'
  counts (for PSI) are sums of fine bins, and Wasserstein and Kolmogorov–Smirnov read the fine bins;
- cumulative history counts: unknown, first-seen and known entities (what they are judged on);
- categorical features: the categories any profile of the reference keeps, plus "(other)";
- scores: fine bins holding the reference's score deciles and the chart's log-spaced bins, plus "no score".

The methods and thresholds are ``scoring.monitoring.drift``'s; the tests' p-values read at most
``TEST_ROWS`` rows of a window, as the sampled report did, so a busy day is not judged stricter than a quiet one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import kolmogorov

from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureRow
from scoring.monitoring import drift

FINE_BINS = 40
DISPLAY_SCORE_BINS = 24
TEST_ROWS = 5000  # a window's rows the significance tests count at most (the sample the report used to draw)
OTHER = "(other)"


@dataclass(frozen=True)
class Layout:
    """Where each feature's counts sit in a histogram vector, for one model version's reference."""

    numeric: dict[str, np.ndarray]  # interior edges: bins [e(i-1), e(i)) as drift._bin_counts, then missing
    points: dict[str, np.ndarray]  # a value standing for each bin (Wasserstein's support)
    entity: tuple[str, ...]  # cumulative features: unknown, first seen, known
    categories: dict[str, tuple[str, ...]]  # kept categories, "(other)" last
    score_edges: np.ndarray
    score_points: np.ndarray
    display_edges: np.ndarray  # log-spaced score bins for the chart (their interior edges are in score_edges)
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    id: str = ""

    @property
    def size(self) -> int:
        return max((end for _, end in self.offsets.values()), default=0)

    def part(self, counts: np.ndarray, name: str) -> np.ndarray:
        start, end = self.offsets[name]
        return counts[start:end]


def _profiles(reference: dict[str, Any]) -> list[dict[str, Any]]:
    return [reference, *(p for p in reference.get("hubs", {}).values() if isinstance(p, dict))]


def _points(edges: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """The mean sample value in each bin; an empty bin gets its middle (or its edge at either end)."""
    index = np.searchsorted(edges, sample, side="right")
    sums = np.bincount(index, weights=sample, minlength=len(edges) + 1)
    counts = np.bincount(index, minlength=len(edges) + 1)
    if len(edges) == 0:
        return np.array([float(np.mean(sample)) if len(sample) else 0.0])
    fallback = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])
    return np.where(counts > 0, sums / np.maximum(counts, 1), fallback)


def layout(reference: dict[str, Any]) -> Layout:
    """The bins a version's histograms are counted on, fixed by its training reference."""
    profiles = _profiles(reference)
    numeric: dict[str, np.ndarray] = {}
    points: dict[str, np.ndarray] = {}
    for name in NUMERIC_FEATURES:
        raws = [p["numeric"][name] for p in profiles if name in p.get("numeric", {})]
        if not raws:
            continue
        refs = [drift._numeric_reference(r) for r in raws]
        sample = np.asarray(refs[0].get("sample", []), dtype=float)
        if len(np.unique(sample)) > drift.DISCRETE_LEVELS:
            fine = np.quantile(sample, np.linspace(0, 1, FINE_BINS + 1)[1:-1])
        else:
            fine = np.asarray(refs[0]["bins"], dtype=float)
        edges = np.unique(np.concatenate([fine, *(np.asarray(r["bins"], dtype=float) for r in refs)]))
        numeric[name] = edges
        samples = np.concatenate([np.asarray(r.get("sample", []), dtype=float) for r in refs])
        points[name] = _points(edges, samples)
    categories: dict[str, tuple[str, ...]] = {}
    for name in CATEGORICAL_FEATURES:
        kept = [c for p in profiles for c in p.get("categorical", {}).get(name, {}) if c != OTHER]
        if any(name in p.get("categorical", {}) for p in profiles):
            categories[name] = (*sorted(set(kept)), OTHER)
    score_samples = [np.round(np.asarray(p.get("score_sample", []), dtype=float), drift.SCORE_DECIMALS)
                     for p in profiles]
    main = score_samples[0]
    positive = main[main > 0]
    if len(positive):
        low, high = float(positive.min()), float(positive.max())
        display = np.geomspace(low, max(high, low * 1.01), DISPLAY_SCORE_BINS + 1)
    else:
        display = np.array([])
    score_edges = np.unique(np.concatenate([
        np.quantile(main, np.linspace(0, 1, FINE_BINS + 1)[1:-1]) if len(main) else np.array([]),
        *(drift._score_bins(s) for s in score_samples if len(s)), display[1:-1]]))
    made = Layout(numeric, points, tuple(n for n in numeric if n in drift.CUMULATIVE), categories, score_edges,
                  _points(score_edges, main), display)
    offset = 0
    parts = [*((f"n:{n}", len(e) + 2) for n, e in numeric.items()), *((f"e:{n}", 3) for n in made.entity),
             *((f"c:{n}", len(c)) for n, c in categories.items()), ("score", len(score_edges) + 2)]
    for key, width in parts:
        made.offsets[key] = (offset, offset + width)
        offset += width
    digest = hashlib.sha256(repr([(k, w) for k, w in parts]).encode())
    for edges in (*numeric.values(), score_edges):
        digest.update(np.asarray(edges, dtype=float).tobytes())
    digest.update(repr(categories).encode())
    object.__setattr__(made, "id", digest.hexdigest()[:32])
    return made


def _matrix(rows: Sequence[FeatureRow]) -> np.ndarray:
    """The numeric features of ``rows`` as floats, NaN where missing (None reads as NaN)."""
    try:
        return np.array([[row.get(name) for name in NUMERIC_FEATURES] for row in rows], dtype=float
                        ).reshape(len(rows), len(NUMERIC_FEATURES))
    except (TypeError, ValueError):  # a value numpy cannot read as a number: the slow path skips it
        return drift._numeric_matrix(rows)


def count_groups(shape: Layout, rows: Sequence[FeatureRow], scores: Sequence[float | None], groups: np.ndarray,
                 n_groups: int) -> np.ndarray:
    """Histogram vectors of ``rows`` (logged feature rows) and their ``scores``, one per group: row ``i``
    counts in group ``groups[i]``. Returns an (n_groups, size) array; vectorised over all rows at once."""
    out = np.zeros((n_groups, shape.size), dtype=np.int64)

    def add(key: str, index: np.ndarray) -> None:
        start, end = shape.offsets[key]
        width = end - start
        out[:, start:end] += np.bincount(groups * width + index, minlength=n_groups * width).reshape(n_groups, width)

    matrix = _matrix(rows)
    for j, name in enumerate(NUMERIC_FEATURES):
        if name not in shape.numeric:
            continue
        column = matrix[:, j]
        missing = np.isnan(column)
        edges = shape.numeric[name]
        add(f"n:{name}", np.where(missing, len(edges) + 1, np.searchsorted(edges, column, side="right")))
        if name in shape.entity:
            add(f"e:{name}", np.where(missing, 0, np.where(column == 0, 1, 2)))
    for name, kept in shape.categories.items():
        where = {c: i for i, c in enumerate(kept)}
        other = where[OTHER]
        add(f"c:{name}", np.fromiter((where.get(drift._category(row.get(name)), other) for row in rows),
                                     dtype=np.int64, count=len(rows)))
    values = np.round(np.array([math.nan if s is None else s for s in scores], dtype=float), drift.SCORE_DECIMALS)
    add("score", np.where(np.isnan(values), len(shape.score_edges) + 1,
                          np.searchsorted(shape.score_edges, values, side="right")))
    return out


def count(shape: Layout, rows: Sequence[FeatureRow], scores: Sequence[float | None]) -> np.ndarray:
    """The histogram vector of ``rows`` and their ``scores``."""
    return count_groups(shape, rows, scores, np.zeros(len(rows), dtype=np.int64), 1)[0]


def _coarsen(fine: np.ndarray, edges: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Counts on ``edges``' bins summed onto ``coarse``'s (every coarse edge is one of ``edges``)."""
    index = np.concatenate([[0], np.searchsorted(coarse, edges, side="right")])
    return np.bincount(index, weights=fine, minlength=len(coarse) + 1)


def _wasserstein_ks(points: np.ndarray, reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Wasserstein distance and the largest CDF gap between two histograms on the same bins."""
    u = np.cumsum(reference) / max(reference.sum(), 1e-12)
    v = np.cumsum(window) / max(window.sum(), 1e-12)
    gap = np.abs(u - v)
    return float((gap[:-1] * np.diff(points)).sum()), float(gap.max(initial=0.0))


def _ks_p(gap: float, n: float, m: float) -> float:
    """Kolmogorov–Smirnov's asymptotic two-sample p-value for a largest CDF gap ``gap``."""
    if n <= 0 or m <= 0:
        return 1.0
    return float(kolmogorov(gap * math.sqrt(n * m / (n + m))))


@dataclass
class _Numeric:
    """A numeric feature of one profile, ready to compare a window's fine counts with."""

    ref: dict[str, Any]  # the profile's entry (format 2)
    to_coarse: np.ndarray  # fine bin -> the profile's decile bin
    expected: np.ndarray  # shares on the profile's deciles, missing last
    entity: np.ndarray  # shares of unknown, first-seen, known
    fine: np.ndarray  # the profile's sample counted on the fine bins (no missing bin)


@dataclass
class _Reference:
    """A profile (overall or one hub's) laid on a layout's bins, computed once per profile and layout."""

    numeric: dict[str, _Numeric]
    categorical: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (vocabulary index per category, shares)
    scores: np.ndarray
    profile: dict[str, Any]  # held so its id() (the cache key) is not reused while cached


_CACHE: dict[tuple[str, int], _Reference] = {}


def _reference_counts(shape: Layout, profile: dict[str, Any]) -> _Reference:
    key = (shape.id, id(profile))
    if key not in _CACHE:
        numeric = {}
        for name, edges in shape.numeric.items():
            raw = profile.get("numeric", {}).get(name)
            if raw is None:
                continue
            ref = drift._numeric_reference(raw)
            bins = np.asarray(ref["bins"], dtype=float)
            numeric[name] = _Numeric(
                ref, np.concatenate([[0], np.searchsorted(bins, edges, side="right")]),
                np.asarray(ref["expected"], dtype=float), np.asarray(ref["entity"], dtype=float),
                drift._bin_counts(np.asarray(ref.get("sample", []), dtype=float), edges)[:-1])
        categorical = {}
        for name, kept in shape.categories.items():
            shares = profile.get("categorical", {}).get(name)
            if shares is None:
                continue
            where = {c: i for i, c in enumerate(kept)}
            names = [c for c in shares if c != OTHER and c in where]
            categorical[name] = (np.array([where[c] for c in names], dtype=np.int64),
                                 np.array([shares[c] for c in names] + [shares.get(OTHER, 0.0)], dtype=float))
        sample = np.round(np.asarray(profile.get("score_sample", []), dtype=float), drift.SCORE_DECIMALS)
        _CACHE[key] = _Reference(numeric, categorical, drift._bin_counts(sample, shape.score_edges)[:-1], profile)
        if len(_CACHE) > 512:  # references live as long as the process; their layouts rarely change
            _CACHE.pop(next(iter(_CACHE)))
    return _CACHE[key]


def feature_drift(profile: dict[str, Any], shape: Layout, counts: np.ndarray, rows: int,
                  window_seconds: float | None, covered_seconds: float | None = None) -> list[drift.FeatureDrift]:
    """Per-feature drift of a summed histogram against ``profile`` (drifted first, then by severity).
    Windows too short to judge get distances but no significance tests (their p-values are NaN)."""
    return feature_drift_many(profile, shape, counts[np.newaxis, :], [rows], window_seconds, [covered_seconds])[0]


def _psi_rows(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """``drift.psi`` of each row of ``actual`` against ``expected``."""
    e = np.maximum(expected, drift.EPS)
    a = np.maximum(actual, drift.EPS)
    return ((a - e) * np.log(a / e)).sum(axis=1)


def feature_drift_many(profile: dict[str, Any], shape: Layout, counts: np.ndarray, rows: Sequence[int],
                       window_seconds: float | None,
                       covered_seconds: Sequence[float | None]) -> list[list[drift.FeatureDrift]]:
    """``feature_drift`` of each row of ``counts`` (one window's summed histogram a row), the distances computed
    for all windows at once: a long export judges thousands of windows, and per-window arithmetic on arrays
    this small was mostly numpy's call overhead."""
    prepared = _reference_counts(shape, profile)
    windows = len(rows)
    n = np.asarray(rows, dtype=float)
    per_row = np.maximum(n, 1.0)[:, np.newaxis]
    tests = window_seconds is None or window_seconds >= 0.95 * drift.DAY_S
    scale = [min(1.0, TEST_ROWS / r) if r else 1.0 for r in rows]
    reference_rows = profile.get("rows", 0)
    notes = [{name: drift._not_judged_note(name, window_seconds, covered)
              for name in (*prepared.numeric, *prepared.categorical)} for covered in covered_seconds]
    p_thresholds = [drift.TEST_P_VALUE / max(1, sum(1 for name in prepared.numeric if not note[name])
                                                + len(prepared.categorical)) for note in notes]
    results: list[list[drift.FeatureDrift]] = [[] for _ in range(windows)]
    nan = [math.nan] * windows
    for name, prep in prepared.numeric.items():
        fine = _columns(shape, counts, f"n:{name}")
        onto = np.zeros((fine.shape[1] - 1, len(prep.expected) - 1))
        onto[np.arange(len(prep.to_coarse)), prep.to_coarse] = 1.0  # fine bin -> the profile's decile bin
        coarse = np.concatenate((fine[:, :-1] @ onto, fine[:, -1:]), axis=1)
        value_psi = _psi_rows(prep.expected, coarse / per_row)
        p_values = nan
        if name in drift.CUMULATIVE:
            kind, method, threshold = "history", "psi", drift.PSI_THRESHOLD
            observed = _columns(shape, counts, f"e:{name}")
            values = _psi_rows(prep.entity, observed / per_row)
            if tests:
                p_values = [drift._chi2_p(prep.entity, reference_rows, observed[w] * scale[w]) for w in range(windows)]
            default_note = "judged on the shares of unknown, first-seen and known entities"
        else:
            kind = "calendar" if name in drift.CALENDAR else "numeric"
            method, threshold, default_note = "wasserstein", drift.WASSERSTEIN_THRESHOLD, ""
            window = fine[:, :-1]
            sizes = window.sum(axis=1)
            empty = (sizes == 0) | (prep.fine.sum() == 0)
            distances, gaps = _wasserstein_ks_rows(shape.points[name], prep.fine, window)
            values = np.where(empty, 0.0, distances / (prep.ref["std"] or 1.0))
            if tests:
                p_values = [1.0 if empty[w] else _ks_p(float(gaps[w]), prep.fine.sum(), sizes[w] * scale[w])
                            for w in range(windows)]
            elif empty.any():
                p_values = [1.0 if empty[w] else math.nan for w in range(windows)]
        for w in range(windows):
            results[w].append(drift._judge(name, kind, method, float(values[w]), threshold, p_values[w],
                                           p_thresholds[w], float(value_psi[w]), rows[w],
                                           notes[w][name] or default_note))
    for name, (index, expected) in prepared.categorical.items():
        observed = _columns(shape, counts, f"c:{name}")[:, index]
        observed = np.concatenate((observed, (n - observed.sum(axis=1))[:, np.newaxis]), axis=1)
        actual = observed / per_row
        values = np.where(n > 0, _jensen_shannon_rows(expected + drift.EPS, actual + drift.EPS), 0.0)
        value_psi = _psi_rows(expected, actual)
        for w in range(windows):
            p_value = drift._chi2_p(expected, reference_rows, observed[w] * scale[w]) if tests else math.nan
            results[w].append(drift._judge(name, "categorical", "jensen_shannon", float(values[w]),
                                           drift.JS_THRESHOLD, p_value, p_thresholds[w], float(value_psi[w]),
                                           rows[w], notes[w][name]))
    for found in results:
        for item in found:
            if item.rows < drift.JUDGE_MIN_ROWS:  # a PSI over a handful of parcels reads as huge drift: not shown
                item.psi = math.nan
        found.sort(key=lambda r: (not r.drifted, not r.judged, -r.severity))
    return results


def _columns(shape: Layout, counts: np.ndarray, name: str) -> np.ndarray:
    start, end = shape.offsets[name]
    return counts[:, start:end].astype(float)


def _wasserstein_ks_rows(points: np.ndarray, reference: np.ndarray,
                         windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_wasserstein_ks`` of each row of ``windows`` against ``reference``."""
    u = np.cumsum(reference) / max(reference.sum(), 1e-12)
    v = np.cumsum(windows, axis=1) / np.maximum(windows.sum(axis=1), 1e-12)[:, np.newaxis]
    gap = np.abs(u - v)
    return (gap[:, :-1] * np.diff(points)).sum(axis=1), gap.max(axis=1, initial=0.0)


def _jensen_shannon_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance in bits of ``p`` and each row of ``q`` (scipy's ``jensenshannon(p, q, base=2)``,
    without its overhead)."""
    p = p / p.sum()
    q = q / q.sum(axis=1)[:, np.newaxis]
    m = (p + q) / 2
    divergence = ((p * np.log(p / m)).sum(axis=1) + (q * np.log(q / m)).sum(axis=1)) / 2
    return np.sqrt(np.maximum(divergence, 0.0) / math.log(2))


def score_drift(profile: dict[str, Any], shape: Layout, counts: np.ndarray, window_seconds: float | None,
                covered_seconds: float | None = None) -> drift.ScoreDrift:
    """PSI of the scores over the profile's score deciles, with KS and Wasserstein on the fine bins."""
    sample = np.round(np.asarray(profile.get("score_sample", []), dtype=float), drift.SCORE_DECIMALS)
    fine = shape.part(counts, "score").astype(float)[:-1]  # the last bin: decisions without a score
    n = int(fine.sum())
    if len(sample) == 0 or n == 0:
        note = "no reference scores" if len(sample) == 0 else "no scores in this window"
        return drift.ScoreDrift("psi", math.nan, drift.PSI_THRESHOLD, math.nan, False, False, n, note=note)
    if n < drift.JUDGE_MIN_ROWS:
        return drift.ScoreDrift("psi", math.nan, drift.PSI_THRESHOLD, math.nan, False, False, n,
                                note=f"sample too small to judge ({n} scores < {drift.JUDGE_MIN_ROWS})")
    deciles = drift._score_bins(sample)
    expected = drift._bin_counts(sample, deciles)[:-1] / len(sample)
    value = drift.psi(expected, _coarsen(fine, shape.score_edges, deciles) / n)
    reference = _reference_counts(shape, profile).scores
    distance, gap = _wasserstein_ks(shape.score_points, reference, fine)
    p_value = _ks_p(gap, reference.sum(), min(n, TEST_ROWS))
    note = drift._not_judged_note("score", window_seconds, covered_seconds)
    judged = not note
    drifted = judged and value > drift.PSI_THRESHOLD and p_value < drift.TEST_P_VALUE
    return drift.ScoreDrift("psi", value, drift.PSI_THRESHOLD, p_value, drifted, judged, n,
                            distance / (float(np.std(sample)) or 1.0), note)


def score_histogram(profile: dict[str, Any], shape: Layout, counts: np.ndarray) -> dict[str, list[float]]:
    """Shares of the reference and of the window on the layout's log-spaced score bins."""
    edges = shape.display_edges
    if len(edges) < 2:
        return {"edges": [], "reference": [], "now": []}
    sample = np.round(np.asarray(profile.get("score_sample", []), dtype=float), drift.SCORE_DECIMALS)
    reference = drift._bin_counts(sample, edges[1:-1])[:-1]
    now = _coarsen(shape.part(counts, "score").astype(float)[:-1], shape.score_edges, edges[1:-1])
    return {"edges": edges.tolist(), "reference": (reference / max(1, reference.sum())).tolist(),
            "now": (now / max(1, now.sum())).tolist()}
