"""The analyst charts drawn as SVG: well-formed, labelled for screen readers, marks inside their axes."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from scoring.monitoring import charts
from scoring.monitoring.monitor import Rate
from scoring.monitoring.svg import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Window:
    flagged: int
    capacity: float
    in_scope: int
    hit: Rate
    miss: Rate
    by_origin: dict[str, int] = field(default_factory=dict)


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # a malformed chart (an unescaped "<" in a label) fails here
    assert root.get("role") == "img" and root.get("aria-label")
    return root


def _bar_tops(root: ET.Element) -> list[float]:
    return [float(r.get("y", 0)) for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_ticks_are_round_and_reach_past_the_largest_value() -> None:
    assert nice_ticks(0, 0.18) == [0, 0.05, 0.1, 0.15, 0.2]
    assert nice_ticks(0, 4.4, integer=True) == [0, 1, 2, 3, 4, 5]
    assert nice_ticks(0, 1880) == [0, 500, 1000, 1500, 2000]


def test_every_chart_is_well_formed_labelled_and_keeps_its_marks_inside_the_plot() -> None:
    labels = [f"11-{d:02d}" for d in range(1, 15)]
    windows = [Window(50 + 10 * i, 100.0, 900 + i, Rate.of(3, 40), Rate.of(0, 0) if i == 3 else Rate.of(1, 80),
                      {"Yunnan": 10 * i, "Hainan <sea>": 5}) for i in range(len(labels))]
    operations = _parsed(charts.operations(labels, windows))
    titles = [t.text or "" for t in operations.iter(f"{SVG}title")]
    assert len(titles) == len(labels) and "11-14: 180 flagged, capacity 100" in titles[-1]
    assert min(_bar_tops(operations)) >= 40  # the tallest bar stays below the plot's top edge (the legend's row)
    rates = _parsed(charts.rates(labels, windows))
    assert len([c for c in rates.iter(f"{SVG}circle") if c.find(f"{SVG}title") is not None]) == 2 * len(labels) - 1
    origins = _parsed(charts.origin_volume(labels, [w.by_origin for w in windows]))
    assert any("Hainan <sea>" in (t.text or "") for t in origins.iter(f"{SVG}text"))
    trend = _parsed(charts.drift_trend(labels, [0] * len(labels), [math.nan] * len(labels), 0.2))
    ticks = [t.text for t in trend.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.text and
             t.text.isdigit()]
    assert ticks[:2] == ["0", "1"]  # no drifted feature anywhere: the count axis still runs 0, 1 in whole numbers
    severity = np.array([[0.2, 1.5], [3.0, 0.1]])
    heatmap = _parsed(charts.drift_heatmap(["weight_kg", "origin"], labels[:2], severity,
                                           np.array([[True, True], [True, False]]),
                                           np.array([[False, True], [True, False]])))
    cells = [t.text or "" for t in heatmap.iter(f"{SVG}title")]
    assert cells == ["weight_kg, 11-01: 0.20 (judged)", "weight_kg, 11-02: 1.50 (drifted)",
                     "origin, 11-01: 3.00 (drifted)", "origin, 11-02: 0.10 (not judged)"]
    histogram = {"edges": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], "reference": [0.1, 0.2, 0.4, 0.2, 0.1],
                 "now": [0.0, 0.1, 0.3, 0.4, 0.2]}
    scores = _parsed(charts.score_histogram(histogram))
    assert {t.text for t in scores.iter(f"{SVG}text")} >= {"10⁻⁴", "10⁻¹", "10⁰", "risk score (log scale)"}
    bars = _parsed(charts.feature_bars([{"feature": "weight_kg", "severity": 2.5, "method": "wasserstein",
                                         "value": 0.25, "drifted": True, "judged": True}]))
    assert any((t.text or "").endswith("W 0.250 · drifted") for t in bars.iter(f"{SVG}text"))
    versions = _parsed(charts.version_metrics([{"version": "2", "aliases": ["champion"],
                                                "metrics": {"test_recall_at_capacity": 0.6}}]))
    assert len(_bar_tops(versions)) == 1  # metrics a version did not log draw no bar


def test_labels_follow_china_time() -> None:
    start = datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert charts.window_label(start, "day") == "11-27"
    assert charts.window_label(start + timedelta(hours=1), "hour") == "11-27 01h"
