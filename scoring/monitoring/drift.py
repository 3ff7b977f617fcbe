"""Drift statistics against a model's training reference, with Evidently's conventions.

Each feature is judged by the distance Evidently uses for its kind:

- numeric: Wasserstein distance normalised by the reference's standard deviation (above 0.1);
- categorical: Jensen–Shannon distance over the reference's top categories plus "other" (above 0.1);
- cumulative entity-history counts (prior parcels, days known, distinct senders, screenings and
  seizures) grow as the history ages even when the parcels do not change, so they are judged on the
  shares of unknown, first-seen and known entities, by PSI (above 0.2);
- calendar features (hour, weekday) are shown but not judged: their mix in the reference depends on
  where the training split happened to fall in the day and the week, not on the parcels.

A feature drifts when its distance passes the threshold *and* the change is significant (two-sample
Kolmogorov–Smirnov for numbers, chi-squared for categories and shares, at p < 0.05 Bonferroni-corrected
over the features judged): the distance alone reads noise as drift in a small window, the test alone
reads every tiny real change as drift in a big one. Windows under a day are not judged (the parcel mix
changes with the hour), nor windows under 100 rows. A reference keeps a profile per hub as well, since
hubs serve different districts. PSI over the reference's deciles (plus a missing bin) is reported beside
every feature. The score distribution is judged by PSI over the reference's score deciles (above 0.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import chdtrc
from scipy.stats import ks_2samp, wasserstein_distance

from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureRow, normalise_category
from models.history import OUTCOME_FEATURES

PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1
WASSERSTEIN_THRESHOLD = 0.1
TEST_P_VALUE = 0.05  # family-wise, split over the features judged in a window
JUDGE_MIN_ROWS = 100
EPS = 1e-4
SAMPLE = 2000
HUB_SAMPLE = 2000
HUB_MIN_ROWS = 300  # hubs with fewer reference rows get no profile of their own
TOP_CATEGORIES = 20
DISCRETE_LEVELS = 12  # a numeric feature with this few distinct values is binned by value
SCORE_DECIMALS = 6  # decisions store scores rounded to this many places
DAY_S = 86400.0
CALENDAR = frozenset({"hour_local", "weekday"})
CUMULATIVE = frozenset({
    "sender_account_prior", "sender_account_days_known", "sender_phone_prior", "sender_id_prior",
    "recipient_phone_prior", "recipient_address_prior", "recipient_distinct_senders", "pair_prior",
    *OUTCOME_FEATURES,  # screenings and seizures so far: they pile up the same way
})
ENTITY_BINS = ("unknown", "first seen", "known")


class _Judged:
    """A distance judged against its threshold (the drift dataclasses below share this)."""

    value: float
    threshold: float

    @property
    def severity(self) -> float:
        """The distance over its threshold (1.0 = on it), comparable across methods."""
        return self.value / self.threshold if math.isfinite(self.value) else 0.0

    def as_dict(self) -> dict[str, Any]:
        # Flat fields, read from the instance's dict (its fields, in order): dataclasses.asdict deep-copies every
        # value, and even fields() per call was a third of a 14-day hourly export's JSON time.
        return {**vars(self), "severity": self.severity}


@dataclass
class FeatureDrift(_Judged):
    """One feature's drift in one window: the distance that judged it, its test, and the verdict."""

    feature: str
    kind: str  # numeric | categorical | history | calendar
    method: str  # wasserstein | jensen_shannon | psi
    value: float
    threshold: float
    p_value: float
    drifted: bool
    judged: bool
    psi: float
    rows: int
    note: str = ""


@dataclass
class ScoreDrift(_Judged):
    method: str
    value: float
    threshold: float
    p_value: float
    drifted: bool
    judged: bool
    rows: int
    wasserstein: float = math.nan
    note: str = ""


def _numeric_matrix(rows: Sequence[FeatureRow]) -> np.ndarray:
    """The numeric part of the rows as floats (NaN where unknown), one column per numeric feature."""
    width = len(NUMERIC_FEATURES)
    if not rows:
        return np.empty((0, width))
    out = np.full((len(rows), width), math.nan)
    for i, row in enumerate(rows):
        for j, name in enumerate(NUMERIC_FEATURES):
            value = row.get(name)  # rows read back from JSON may hold None for a missing number
            if isinstance(value, int | float):
                out[i, j] = value
    return out


def _bin_counts(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Counts per bin (``bins`` are interior edges, right-closed) plus a last bin for missing values."""
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(bins, values[~missing], side="right"), minlength=len(bins) + 1)
    return np.append(counts, missing.sum()).astype(float)


def _entity_counts(values: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    present = values[~missing]
    return np.array([missing.sum(), (present == 0).sum(), (present != 0).sum()], dtype=float)


def _interior_bins(values: np.ndarray) -> np.ndarray:
    distinct = np.unique(values)
    if len(distinct) <= DISCRETE_LEVELS:
        return (distinct[:-1] + distinct[1:]) / 2
    return np.unique(np.quantile(values, np.linspace(0, 1, 11)[1:-1]))


def profile(rows: list[FeatureRow], scores: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """A compact reference: bins and shares, a value sample, category shares, a score sample, and the
    same per hub. ``scores``, when given, belong to the first ``len(scores)`` rows (training scores its
    validation rows, which come first)."""
    reference = _profile(rows, scores, seed, SAMPLE)
    by_hub: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_hub.setdefault(str(row.get("hub_id")), []).append(i)
    reference["hubs"] = {}
    for hub, indices in sorted(by_hub.items()):
        if len(indices) >= HUB_MIN_ROWS:
            hub_scores = None if scores is None else np.asarray(scores)[[i for i in indices if i < len(scores)]]
            reference["hubs"][hub] = _profile([rows[i] for i in indices], hub_scores, seed, HUB_SAMPLE)
    return reference


def _profile(rows: list[FeatureRow], scores: np.ndarray | None, seed: int, sample_size: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    total = max(1, len(rows))
    reference: dict[str, Any] = {"format": 2, "numeric": {}, "categorical": {}, "rows": len(rows)}
    matrix = _numeric_matrix(rows)
    for j, name in enumerate(NUMERIC_FEATURES):
        column = matrix[:, j]
        values = column[~np.isnan(column)]
        if len(values) == 0:
            continue
        bins = _interior_bins(values)
        sample = rng.choice(values, size=min(sample_size, len(values)), replace=False)
        reference["numeric"][name] = {
            "bins": bins.tolist(),
            "expected": (_bin_counts(column, bins) / total).tolist(),
            "entity": (_entity_counts(column) / total).tolist(),
            "missing": 1 - len(values) / total,
            "std": float(np.std(values)),
            "sample": np.round(sample, 6).tolist(),
        }
    for name in CATEGORICAL_FEATURES:
        frequency: dict[str, int] = {}
        for row in rows:
            key = _category(row.get(name))
            frequency[key] = frequency.get(key, 0) + 1
        top = sorted(frequency, key=lambda c: -frequency[c])[:TOP_CATEGORIES]
        shares = {c: frequency[c] / total for c in top}
        shares["(other)"] = max(0.0, 1 - sum(shares.values()))
        reference["categorical"][name] = shares
    if scores is not None and len(scores):
        reference["score_sample"] = np.round(np.quantile(scores, np.linspace(0, 1, 2000)), 8).tolist()
    return reference


def hub_reference(reference: dict[str, Any], hub_id: str) -> dict[str, Any] | None:
    """The hub's own profile inside a model's reference (None if it had too few rows, or none was kept)."""
    found = reference.get("hubs", {}).get(str(normalise_category(hub_id)))
    return found if isinstance(found, dict) else None


def _category(value: object) -> str:
    return "(missing)" if value is None else str(value)


def _numeric_reference(ref: dict[str, Any]) -> dict[str, Any]:
    """References written before format 2 kept only full-range edges and a sample: rebuild from the sample."""
    if "bins" in ref:
        return ref
    sample = np.asarray(ref.get("sample", []), dtype=float)
    missing = float(ref.get("missing", 0.0))
    if len(sample) == 0:
        return {**ref, "bins": [], "expected": [1 - missing, missing], "entity": [missing, 0.0, 1 - missing]}
    bins = _interior_bins(sample)
    counts = _bin_counts(sample, bins)[:-1] / len(sample) * (1 - missing)
    zero = float(np.mean(sample == 0)) * (1 - missing)
    return {**ref, "bins": bins.tolist(), "expected": [*counts.tolist(), missing],
            "entity": [missing, zero, 1 - missing - zero]}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected, EPS)  # np.clip costs several times more on arrays this small
    a = np.maximum(actual, EPS)
    return float(((a - e) * np.log(a / e)).sum())  # the method: np.sum's wrapper cost more than the sum here


def _chi2_p(expected_shares: np.ndarray, reference_rows: int, observed: np.ndarray) -> float:
    """Two-sample chi-squared test (the reference is a sample too, not the truth); bins with under 5
    expected rows are pooled so the test holds. Computed directly: scipy's chi2_contingency cost half a
    millisecond a call in its wrappers, and a page judges thousands."""
    reference = np.maximum(np.asarray(expected_shares, dtype=float), 0.0)
    reference = reference / max(reference.sum(), EPS) * max(reference_rows, 1)
    table = np.vstack([reference, observed])
    total = table.sum()
    if observed.sum() == 0 or total == 0:
        return 1.0
    small = table.sum(axis=0) * min(reference.sum(), observed.sum()) / total < 5
    if small.any():
        table = np.column_stack([table[:, ~small], table[:, small].sum(axis=1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(chdtrc(table.shape[1] - 1, statistic))


def _not_judged_note(name: str, window_seconds: float | None, covered_seconds: float | None = None) -> str:
    """Why a feature is not judged in a window of ``window_seconds`` of which ``covered_seconds`` have passed
    ("" when it is judged)."""
    # 5% slack: a window whose last parcel came at 23:58 still covers the day
    if window_seconds is not None and window_seconds < 0.95 * DAY_S:
        return "not judged in hour windows: the parcel mix changes with the hour (day windows are judged)"
    if window_seconds is not None and covered_seconds is not None and covered_seconds < 0.95 * window_seconds:
        return (f"not judged yet: the window is still open ({covered_seconds / 3600:.0f} h of "
                f"{window_seconds / 3600:.0f} h so far), judged once it closes")
    if name in CALENDAR:
        return "calendar: shown, not judged (the reference's mix depends on where the training split fell)"
    return ""


def feature_drift(
    reference: dict[str, Any], rows: Sequence[FeatureRow], window_seconds: float | None = None
) -> list[FeatureDrift]:
    """Per-feature drift of ``rows`` against ``reference``: drifted features first, then by severity.

    ``window_seconds`` is the length of the window the rows come from (None: long enough for any cycle).
    """
    n = len(rows)
    numeric_ref = reference.get("numeric", {})
    categorical_ref = reference.get("categorical", {})
    judged_count = sum(1 for name in NUMERIC_FEATURES if name in numeric_ref and not _not_judged_note(
        name, window_seconds)) + sum(1 for name in CATEGORICAL_FEATURES if name in categorical_ref)
    p_threshold = TEST_P_VALUE / max(1, judged_count)
    results: list[FeatureDrift] = []
    matrix = _numeric_matrix(rows)
    for j, name in enumerate(NUMERIC_FEATURES):
        raw = numeric_ref.get(name)
        if raw is None:
            continue
        ref = _numeric_reference(raw)
        column = matrix[:, j]
        value_psi = psi(np.asarray(ref["expected"]), _bin_counts(column, np.asarray(ref["bins"])) / max(1, n))
        if name in CUMULATIVE:
            kind, method, threshold = "history", "psi", PSI_THRESHOLD
            observed = _entity_counts(column)
            expected = np.asarray(ref["entity"], dtype=float)
            value = psi(expected, observed / max(1, n))
            p_value = _chi2_p(expected, reference.get("rows", 0), observed)
            note = "judged on the shares of unknown, first-seen and known entities"
        else:
            kind = "calendar" if name in CALENDAR else "numeric"
            method, threshold, note = "wasserstein", WASSERSTEIN_THRESHOLD, ""
            values = column[~np.isnan(column)]
            sample = np.asarray(ref["sample"], dtype=float)
            if len(values) == 0 or len(sample) == 0:
                value, p_value = 0.0, 1.0
            else:
                value = float(wasserstein_distance(sample, values) / (ref["std"] or 1.0))
                p_value = float(ks_2samp(sample, values, method="asymp").pvalue)
        results.append(_judge(name, kind, method, value, threshold, p_value, p_threshold, value_psi, n,
                              _not_judged_note(name, window_seconds) or note))
    for name in CATEGORICAL_FEATURES:
        ref_shares = categorical_ref.get(name)
        if ref_shares is None:
            continue
        seen = dict.fromkeys(ref_shares, 0)
        for row in rows:
            key = _category(row.get(name))
            seen[key if key in seen else "(other)"] += 1
        observed = np.array([seen[c] for c in seen], dtype=float)
        expected = np.array([ref_shares[c] for c in seen], dtype=float)
        actual = observed / max(1, n)
        value = float(jensenshannon(expected + EPS, actual + EPS, base=2)) if n else 0.0
        p_value = _chi2_p(expected, reference.get("rows", 0), observed)
        results.append(_judge(name, "categorical", "jensen_shannon", value, JS_THRESHOLD, p_value, p_threshold,
                              psi(expected, actual), n, _not_judged_note(name, window_seconds)))
    results.sort(key=lambda r: (not r.drifted, not r.judged, -r.severity))
    return results


def _judge(name: str, kind: str, method: str, value: float, threshold: float, p_value: float, p_threshold: float,
           value_psi: float, n: int, note: str) -> FeatureDrift:
    applicable = not note.startswith(("not judged", "calendar"))
    judged = applicable and n >= JUDGE_MIN_ROWS
    if applicable and not judged:
        note = f"too few rows to judge ({n} < {JUDGE_MIN_ROWS})"
    drifted = judged and value > threshold and p_value < p_threshold
    return FeatureDrift(name, kind, method, value, threshold, p_value, drifted, judged, value_psi, n, note)


def _score_bins(sample: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(sample, np.linspace(0, 1, 11)[1:-1]))


def score_drift(reference: dict[str, Any], scores: np.ndarray, window_seconds: float | None = None) -> ScoreDrift:
    """PSI of the score distribution over the reference's score deciles, with a KS test beside it.

    Both sides are rounded as the decision log rounds them: a model's scores cluster on a few values,
    and a tie split by a rounding difference would otherwise read as drift.
    """
    sample = np.round(np.asarray(reference.get("score_sample", []), dtype=float), SCORE_DECIMALS)
    scores = np.round(np.asarray(scores, dtype=float), SCORE_DECIMALS)
    n = len(scores)
    if len(sample) == 0 or n == 0:
        note = "no reference scores" if len(sample) == 0 else "no scores in this window"
        return ScoreDrift("psi", math.nan, PSI_THRESHOLD, math.nan, False, False, n, note=note)
    bins = _score_bins(sample)
    value = psi(_bin_counts(sample, bins)[:-1] / len(sample), _bin_counts(scores, bins)[:-1] / n)
    p_value = float(ks_2samp(sample, scores, method="asymp").pvalue)
    distance = float(wasserstein_distance(sample, scores) / (np.std(sample) or 1.0))
    note = _not_judged_note("score", window_seconds)
    judged = not note and n >= JUDGE_MIN_ROWS
    if not note and not judged:
        note = f"too few rows to judge ({n} < {JUDGE_MIN_ROWS})"
    drifted = judged and value > PSI_THRESHOLD and p_value < TEST_P_VALUE
    return ScoreDrift("psi", value, PSI_THRESHOLD, p_value, drifted, judged, n, distance, note)


def score_histogram(reference: dict[str, Any], scores: np.ndarray, bins: int = 24) -> dict[str, list[float]]:
    """Shares of the reference and of ``scores`` on common log-spaced bins (risk scores are small)."""
    sample = np.asarray(reference.get("score_sample", []), dtype=float)
    scores = np.asarray(scores, dtype=float)
    both = np.concatenate([sample, scores])
    both = both[both > 0]
    if len(both) == 0:
        return {"edges": [], "reference": [], "now": []}
    low, high = float(both.min()), float(both.max())
    high = max(high, low * 1.01)
    edges = np.geomspace(low, high, bins + 1)

    def shares(values: np.ndarray) -> list[float]:
        if len(values) == 0:
            return [0.0] * bins
        counts = np.histogram(np.clip(values, low, high), bins=edges)[0]
        return (counts / len(values)).tolist()

    return {"edges": edges.tolist(), "reference": shares(sample), "now": shares(scores)}
