"""Monitoring over the decision log: per window (hour, day, week), per hub and overall, per model version.

For each window it measures what analysts ask of a model in service: per-feature and score drift
against the training reference of the model that scored the window (``scoring.monitoring.drift``), flag rate
against capacity, hit rate of screened parcels, the miss rate among released parcels estimated from
the random exploration share (inverse-propensity weighted, with a Wilson interval), late labels, and
volume by origin. A challenger scored in shadow is judged for drift beside the champion. Thresholds
crossed become alerts, kept in the store (one per kind, scope, window and version; re-judging a window
updates its alert).

Windows follow China local time (the hubs' clock): days start at local midnight, weeks on Monday.
Over 400 lines because one pass over the log fills every window, scope and version, the judging reads those
tallies, and the windows on one reference are judged together (``_judge_features``: it needs the window types
defined here); drift statistics are in ``drift`` and ``binning``, the HTML report in ``report``, the charts
in ``charts``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from models.features import CHINA_TZ
from scoring.monitoring import binning, drift, tally
from scoring.store.aggregates import FoldRow, HourCounts, HourHistogram, HourLabels, LabelledDecision, LabelSums

log = logging.getLogger(__name__)

GRANULARITIES = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
DEFAULT_SPAN = {"hour": timedelta(hours=48), "day": timedelta(days=14), "week": timedelta(weeks=8)}
FLAG_OVER = 1.25  # flagged / capacity above this jams the X-ray lanes
FLAG_UNDER = 0.5  # ... below this wastes them
FLAG_MIN_ROWS = 200
RATE_MIN_LABELS = 30
ALL = "all"


def wilson_interval(hits: float, n: float, z: float = 1.96) -> tuple[float, float, float]:
    """Rate with a Wilson score interval; works with effective (weighted) counts."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return (p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson interval; ``n`` may be an effective (weighted) count."""

    hits: float
    n: float
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, hits: float, n: float) -> Rate:
        rate, low, high = wilson_interval(hits, n)
        return cls(hits, n, rate, low, high)


@dataclass(frozen=True)
class Expectation:
    """What a version's held-out evaluation implied, for judging its live performance."""

    precision: float | None = None  # hit rate at capacity
    miss_rate: float | None = None  # contraband rate among released parcels


@dataclass
class ModelWindow:
    """One model version's drift in one window (``role``: "in service" or "shadow")."""

    version: str
    role: str
    rows: int
    features: list[drift.FeatureDrift]
    score: drift.ScoreDrift
    histogram: dict[str, list[float]]
    note: str = ""

    @property
    def drifted(self) -> list[drift.FeatureDrift]:
        return [f for f in self.features if f.drifted]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "role": self.role, "rows": self.rows, "note": self.note,
                "drifted": [f.feature for f in self.drifted], "features": [f.as_dict() for f in self.features],
                "score": self.score.as_dict(), "score_histogram": self.histogram}


@dataclass
class WindowReport:
    start: datetime
    end: datetime
    covered_s: float
    scope: str
    total: int
    in_scope: int
    flagged: int
    flagged_by_why: dict[str, int]
    capacity: float
    released: int
    hit: Rate
    model_hit: Rate
    miss: Rate
    expected_missed: float
    late_hits: int
    by_origin: dict[str, int]
    models: list[ModelWindow] = field(default_factory=list)

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.in_scope if self.in_scope else math.nan

    @property
    def capacity_ratio(self) -> float:
        return self.flagged / self.capacity if self.capacity else math.nan

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "models"}
        data.update(hit=asdict(self.hit), model_hit=asdict(self.model_hit), miss=asdict(self.miss))
        data.update(start=self.start.isoformat(), end=self.end.isoformat(), flag_rate=self.flag_rate,
                    capacity_ratio=self.capacity_ratio, models=[m.as_dict() for m in self.models])
        return data


@dataclass
class Alert:
    kind: str  # feature_drift | score_drift | flag_rate | hit_rate | miss_rate
    severity: str  # info | warning | critical
    scope: str
    granularity: str
    window_start: datetime
    window_end: datetime
    model_name: str
    model_version: str | None
    message: str
    detail: dict[str, Any]
    value: float | None
    threshold: float | None

    @property
    def key(self) -> str:
        start = self.window_start.isoformat()
        return f"{self.kind}|{self.scope}|{self.granularity}|{start}|{self.model_version or '-'}"

    def as_row(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key, "value": _finite(self.value), "threshold": _finite(self.threshold)}


@dataclass
class Report:
    model_name: str
    granularity: str
    since: datetime
    until: datetime
    generated_at: datetime
    live: dict[str, str]  # alias -> version
    windows: list[WindowReport]
    alerts: list[Alert]
    expectations: dict[str, Expectation]
    hubs: list[str] = field(default_factory=list)  # every hub in the period (drift may be built for fewer)

    def scope_windows(self, scope: str = ALL) -> list[WindowReport]:
        return [w for w in self.windows if w.scope == scope]

    @property
    def scopes(self) -> list[str]:
        return [ALL, *sorted(set(self.hubs) | {w.scope for w in self.windows} - {ALL})]

    @property
    def versions(self) -> list[str]:
        return sorted({m.version for w in self.windows for m in w.models}, key=_version_key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name, "granularity": self.granularity, "since": self.since.isoformat(),
            "until": self.until.isoformat(), "generated_at": self.generated_at.isoformat(), "live": self.live,
            "thresholds": thresholds(), "expectations": {v: asdict(e) for v, e in self.expectations.items()},
            "windows": [w.as_dict() for w in self.windows],
            "alerts": [{**a.as_row(), "window_start": a.window_start.isoformat(),
                        "window_end": a.window_end.isoformat()} for a in self.alerts],
        }


def thresholds() -> dict[str, Any]:
    return {"wasserstein": drift.WASSERSTEIN_THRESHOLD, "jensen_shannon": drift.JS_THRESHOLD,
            "psi": drift.PSI_THRESHOLD, "test_p_value": drift.TEST_P_VALUE, "judge_min_rows": drift.JUDGE_MIN_ROWS,
            "flag_over_capacity": FLAG_OVER, "flag_under_capacity": FLAG_UNDER}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)


def window_start(at: datetime, granularity: str) -> datetime:
    """The start (UTC) of the window holding ``at``, aligned to China local time."""
    local = at.astimezone(CHINA_TZ)
    if granularity == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if granularity == "week":
            local -= timedelta(days=local.weekday())
    return local.astimezone(UTC)


def _miss_rate(labels: LabelSums) -> Rate:
    """Contraband rate among parcels the model would release, from exploration labels weighted by
    1/propensity; the interval uses Kish's effective sample size."""
    if labels.explored_w <= 0:
        return Rate.of(0, 0)
    rate = labels.explored_wy / labels.explored_w
    n_eff = labels.explored_w ** 2 / labels.explored_ww
    return Rate.of(rate * n_eff, n_eff)


def build_report(
    rows: Iterable[Mapping[str, Any]],
    *,
    model_name: str,
    granularity: str,
    since: datetime,
    until: datetime,
    references: Callable[[str], dict[str, Any] | None],
    capacity_share: float,
    hub_capacity_per_hour: dict[str, int] | None = None,
    expectations: dict[str, Expectation] | None = None,
    live: dict[str, str] | None = None,
) -> Report:
    """The report from decision-log rows with their labels (``MonitoringRow``): folded hour by hour exactly
    as the monitoring job folds the store, then assembled as the pages assemble it."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {granularity!r}")
    layouts = Layouts(references)
    fold_rows: list[FoldRow] = []
    labelled: list[LabelledDecision] = []
    for row in rows:
        at = row["accepted_at"]
        fold_rows.append(FoldRow(at, row["hub_id"], row["action"], row["why"], row["model_version"], row["score"],
                                 row["shadow_version"], row["shadow_score"], row.get("origin_province"),
                                 row.get("features")))
        if row.get("label") is not None:
            labelled.append(LabelledDecision(at, row["hub_id"], row["action"], row["why"], row["propensity"],
                                             bool(row["label"]), bool(row.get("late"))))
    counts: list[HourCounts] = []
    histograms: list[HourHistogram] = []
    for c, h in tally.fold_hours(fold_rows, layouts.get, hub_capacity_per_hour or {}).values():
        counts += c
        histograms += h
    labels: dict[tuple[datetime, str], LabelSums] = {}
    for d in labelled:
        labels.setdefault((tally.hour_of(d.accepted_at), d.hub_id), LabelSums()).add(d)
    hour_labels = [HourLabels(hour, hub, sums) for (hour, hub), sums in labels.items()]
    report = assemble(counts, histograms, hour_labels, model_name=model_name, granularity=granularity, since=since,
                      until=until, references=references, layouts=layouts.get, capacity_share=capacity_share,
                      expectations=expectations, live=live)
    report.alerts = evaluate_alerts(report)
    return report


class Layouts:
    """Each version's histogram layout, made once from its reference (None: the version has no reference)."""

    def __init__(self, references: Callable[[str], dict[str, Any] | None]) -> None:
        self.references = references
        self.cache: dict[str, binning.Layout | None] = {}

    def get(self, version: str) -> binning.Layout | None:
        if version not in self.cache:
            reference = self.references(version)
            self.cache[version] = None if reference is None else binning.layout(reference)
        return self.cache[version]


def assemble(
    counts: Sequence[HourCounts],
    histograms: Sequence[HourHistogram],
    labels: Iterable[HourLabels],
    *,
    model_name: str,
    granularity: str,
    since: datetime,
    until: datetime,
    references: Callable[[str], dict[str, Any] | None],
    layouts: Callable[[str], binning.Layout | None],
    capacity_share: float,
    scopes: Collection[str] | None = None,
    expectations: dict[str, Expectation] | None = None,
    live: dict[str, str] | None = None,
) -> Report:
    """Windows from hourly aggregates: counts and labels for every hub, drift for ``scopes`` (None: all).
    Alerts are not judged here (``evaluate_alerts``: the monitoring job judges closed windows)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, not {granularity!r}")
    sums: dict[tuple[datetime, str], tally.Window] = {}

    def window(at: datetime, hub: str) -> list[tally.Window]:
        start = window_start(at, granularity)
        found = []
        for scope in (ALL, hub):
            if (start, scope) not in sums:
                sums[(start, scope)] = tally.Window()
            found.append(sums[(start, scope)])
        return found

    for c in counts:
        if since < c.hour_start + timedelta(hours=1) and c.hour_start < until:
            for summed in window(c.hour_start, c.hub_id):
                summed.add_counts(c)
    for h in histograms:
        if since < h.hour_start + timedelta(hours=1) and h.hour_start < until:
            whole, hub = window(h.hour_start, h.hub_id)
            whole.add_histogram(h)
            if h.role == tally.IN_SERVICE:  # a challenger in shadow reads the same parcels: judged overall only
                hub.add_histogram(h)
    for hour_labels in labels:
        if since < hour_labels.hour_start + timedelta(hours=1) and hour_labels.hour_start < until:
            for summed in window(hour_labels.hour_start, hour_labels.hub_id):
                summed.labels.merge(hour_labels.sums)
    length = GRANULARITIES[granularity]
    hubs = sorted({scope for (_, scope) in sums} - {ALL})
    windows: list[WindowReport] = []
    pending: list[_Pending] = []
    for (start, scope), sums_ in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1] != ALL, kv[0][1])):
        if scopes is not None and scope not in scopes:
            continue
        end = start + length
        covered = (min(end, until) - max(start, since)).total_seconds()
        if scope == ALL:
            capacity = sum(sums[(start, h)].capacity(h, covered, capacity_share, sums[(start, h)].in_scope)
                           for h in sorted(sums_.hubs))
        else:
            capacity = sums_.capacity(scope, covered, capacity_share, sums_.in_scope)
        window_labels = sums_.labels
        miss = _miss_rate(window_labels)
        report_window = WindowReport(
            start=start, end=end, covered_s=covered, scope=scope, total=sums_.total, in_scope=sums_.in_scope,
            flagged=sum(sums_.flagged.values()), flagged_by_why=dict(sums_.flagged), capacity=capacity,
            released=sums_.released, hit=Rate.of(window_labels.screened_hits, window_labels.screened_labelled),
            model_hit=Rate.of(window_labels.model_hits, window_labels.model_labelled), miss=miss,
            expected_missed=miss.rate * sums_.released if math.isfinite(miss.rate) else math.nan,
            late_hits=window_labels.late_hits, by_origin=dict(sums_.by_origin.most_common()),
        )
        for slot, ((version, role), (bins_id, rows, summed)) in enumerate(sorted(
                sums_.histograms.items(), key=lambda kv: (kv[0][1] != tally.IN_SERVICE, _version_key(kv[0][0])))):
            found = _model_window(version, role, rows, summed, bins_id, references(version), layouts(version), scope,
                                  covered)
            if isinstance(found, _Pending):  # judged below, with the other windows on the same reference
                found.window, found.at = report_window, slot
                pending.append(found)
            else:
                report_window.models.append(found)
        windows.append(report_window)
    _judge_features(pending, length.total_seconds())
    return Report(model_name, granularity, since, until, datetime.now(UTC), dict(live or {}), windows, [],
                  dict(expectations or {}), hubs)


@dataclass
class _Pending:
    """A model window whose features are judged with every other window on the same reference and bins."""

    version: str
    role: str
    rows: int
    counts: np.ndarray
    reference: dict[str, Any]
    shape: binning.Layout
    scope: str
    covered: float
    note: str
    window: WindowReport | None = None
    at: int = 0  # its place among the window's models
    judged: ModelWindow | None = None


def _model_window(version: str, role: str, rows: int, counts: np.ndarray, bins_id: str,
                  reference: dict[str, Any] | None, shape: binning.Layout | None, scope: str,
                  covered: float) -> ModelWindow | _Pending:
    empty = drift.ScoreDrift("psi", math.nan, drift.PSI_THRESHOLD, math.nan, False, False, rows)
    if reference is None or shape is None:
        empty.note = "no training reference found for this version"
        return ModelWindow(version, role, rows, [], empty, {}, empty.note)
    if shape.id != bins_id:
        empty.note = "folded on other bins than this version's reference now gives: refold (parcelguard monitor)"
        return ModelWindow(version, role, rows, [], empty, {}, empty.note)
    note = ""
    ref = reference
    if scope != ALL:
        hub_ref = drift.hub_reference(reference, scope)
        if hub_ref is None:
            note = "no profile of this hub in the training reference: shown against all hubs, not judged"
        else:
            ref = hub_ref
    return _Pending(version, role, rows, counts, ref, shape, scope, covered, note)


def _judge_features(pending: Sequence[_Pending], length: float) -> None:
    """Judge the pending model windows, those on the same profile and bins together, and put each in its place
    among its window's models (``pending`` is in window and slot order, so each insert lands where it was)."""
    groups: dict[tuple[int, str], list[_Pending]] = {}
    for p in pending:
        groups.setdefault((id(p.reference), p.shape.id), []).append(p)
    for group in groups.values():
        first = group[0]
        judged = binning.feature_drift_many(first.reference, first.shape, np.stack([p.counts for p in group]),
                                            [p.rows for p in group], length, [p.covered for p in group])
        for p, features in zip(group, judged, strict=True):
            score = binning.score_drift(p.reference, p.shape, p.counts, length, p.covered)
            if p.note:
                for item in features:
                    item.drifted, item.judged, item.note = False, False, p.note
                score.drifted, score.judged, score.note = False, False, p.note
            p.judged = ModelWindow(p.version, p.role, p.rows, features, score,
                                   binning.score_histogram(p.reference, p.shape, p.counts), p.note)
    for p in pending:
        if p.window is not None and p.judged is not None:
            p.window.models.insert(p.at, p.judged)


def evaluate_alerts(report: Report) -> list[Alert]:
    """The thresholds each window crossed, named for people: which features, by what method, how far."""
    found: list[Alert] = []
    for w in report.windows:
        base: dict[str, Any] = {"scope": w.scope, "granularity": report.granularity, "window_start": w.start,
                                "window_end": w.end, "model_name": report.model_name}
        where = "all hubs" if w.scope == ALL else f"hub {w.scope}"
        when = w.start.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M" if report.granularity == "hour" else "%Y-%m-%d")
        for m in w.models:
            shadow = m.role == "shadow"
            drifted = [] if shadow else m.drifted  # a shadow reads the same parcels: its drift is in the report
            if drifted:
                names = ", ".join(f"{f.feature} ({f.method} {f.value:.3f} > {f.threshold:g})" for f in drifted[:5])
                more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
                severity = "critical" if len(drifted) >= 3 else "warning"
                found.append(Alert(
                    "feature_drift", severity, model_version=m.version, **base,
                    message=f"{len(drifted)} feature(s) drifting for model v{m.version} on {where}, "
                            f"{report.granularity} of {when}: {names}{more}",
                    detail={"role": m.role, "rows": m.rows, "features": [
                        {"feature": f.feature, "method": f.method, "value": f.value, "threshold": f.threshold,
                         "p_value": f.p_value} for f in drifted]},
                    value=max(f.severity for f in drifted), threshold=1.0))
            if m.score.drifted:
                found.append(Alert(
                    "score_drift", "info" if shadow else "warning", model_version=m.version, **base,
                    message=f"score distribution of model v{m.version}{' (shadow)' if shadow else ''} shifted on "
                            f"{where}, {report.granularity} of {when}: PSI {m.score.value:.3f} > {m.score.threshold:g}",
                    detail={"role": m.role, "rows": m.rows, "psi": m.score.value, "p_value": m.score.p_value},
                    value=m.score.value, threshold=m.score.threshold))
        found.extend(_performance_alerts(report, w, base, where, when))
    return found


def _performance_alerts(report: Report, w: WindowReport, base: dict[str, Any], where: str, when: str) -> list[Alert]:
    found: list[Alert] = []
    acting = next((m.version for m in w.models if m.role == "in service"), None)
    if w.in_scope >= FLAG_MIN_ROWS and math.isfinite(w.capacity_ratio) and w.capacity > 0:
        ratio = w.capacity_ratio
        if ratio > FLAG_OVER or ratio < FLAG_UNDER:
            over = ratio > FLAG_OVER
            found.append(Alert(
                "flag_rate", "critical" if over else "warning", model_version=acting, **base,
                message=f"{w.flagged} parcels flagged against a capacity of {w.capacity:.0f} on {where}, "
                        f"{report.granularity} of {when} ({ratio:.0%}): {'jams' if over else 'wastes'} the X-ray lanes",
                detail={"flagged": w.flagged, "capacity": w.capacity, "by_why": w.flagged_by_why},
                value=ratio, threshold=FLAG_OVER if over else FLAG_UNDER))
    expected = report.expectations.get(acting or "")
    if expected is None:
        return found
    if expected.precision and w.model_hit.n >= RATE_MIN_LABELS and w.model_hit.high < expected.precision / 2:
        found.append(Alert(
            "hit_rate", "warning", model_version=acting, **base,
            message=f"hit rate of model-flagged parcels {w.model_hit.rate:.1%} (95% CI {w.model_hit.low:.1%}–"
                    f"{w.model_hit.high:.1%}) on {where}, {report.granularity} of {when}: under half the "
                    f"{expected.precision:.1%} its held-out period implied",
            detail={**asdict(w.model_hit), "expected": expected.precision},
            value=w.model_hit.rate, threshold=expected.precision / 2))
    if expected.miss_rate is not None and w.miss.n > 0 and w.miss.low > expected.miss_rate:
        found.append(Alert(
            "miss_rate", "critical", model_version=acting, **base,
            message=f"estimated miss rate among released parcels {w.miss.rate:.2%} (95% CI {w.miss.low:.2%}–"
                    f"{w.miss.high:.2%}, from {w.miss.n:.0f} effective exploration labels) on {where}, "
                    f"{report.granularity} of {when}: above the {expected.miss_rate:.2%} its held-out period implied",
            detail={**asdict(w.miss), "expected": expected.miss_rate},
            value=w.miss.rate, threshold=expected.miss_rate))
    return found
