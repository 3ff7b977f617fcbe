"""Charts for the drift report and the analyst pages, drawn as inline SVG strings from the window sums.

Inline SVG keeps a report one self-contained file (no CDN, no image files) and lets the browser scale it;
text stays text, so it is searchable and crisp, and each chart carries an ``aria-label`` (and each mark a
``<title>`` with its figures, shown on hover). The charts are drawn directly (``svg.Frame``), not through
matplotlib: seven matplotlib charts took 0.4–0.9 s of a page's first view, these take milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.features import CHINA_TZ
from scoring.monitoring.svg import INK, MUTED, Frame, Key, Linear, Log, nice_ticks, text_width, tick_text

RISK, OK, ACCENT, AMBER = "#b3261e", "#1b7f3b", "#1f4fd1", "#c77700"
NOT_JUDGED = "#b8bfca"
SEVERITY_STOPS = ("#eaf6ee", "#fff4cc", "#f6b26b", RISK)  # distance / threshold 0 → 2, evenly spaced
ORIGIN_COLOURS = ["#1f4fd1", "#c77700", "#1b7f3b", "#7b3fb3", "#b3261e", "#0f8a8a", "#9aa1ad"]
WIDE, TALL = 690.0, 270.0  # a chart card's drawn size, px


def window_label(start: Any, granularity: str) -> str:
    local = start.astimezone(CHINA_TZ)
    return local.strftime("%m-%d %Hh") if granularity == "hour" else local.strftime("%m-%d")


def severity_colour(value: float) -> str:
    """The heatmap's colour for distance / threshold (clipped to 0–2), between ``SEVERITY_STOPS``."""
    position = min(max(value, 0.0), 2.0) / 2.0 * (len(SEVERITY_STOPS) - 1)
    k = min(int(position), len(SEVERITY_STOPS) - 2)
    a, b = SEVERITY_STOPS[k], SEVERITY_STOPS[k + 1]
    mix = position - k
    rgb = [round(int(a[i:i + 2], 16) * (1 - mix) + int(b[i:i + 2], 16) * mix) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _ticks(values: Sequence[float], headroom: float = 1.1, integer: bool = False) -> list[float]:
    """Ticks from 0 to the largest finite value (with headroom)."""
    top = max((v for v in values if math.isfinite(v)), default=0.0) * headroom
    return nice_ticks(0.0, top if top > 0 else 1.0, integer=integer)


def _scale(frame: Frame, ticks: Sequence[float], top: float | None = None) -> Linear:
    return frame.y(ticks[0], max(ticks[-1], top or ticks[-1]))


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def drift_heatmap(features: Sequence[str], labels: Sequence[str], severity: np.ndarray, judged: np.ndarray,
                  drifted: np.ndarray) -> str:
    """Features (rows) by windows (columns): colour = distance over threshold; ● = drifted; grey = not judged."""
    width = min(1056.0, max(WIDE, 403 + 40 * len(labels)))
    left = 12 + max((text_width(f, 11) for f in features), default=60)
    frame = Frame(width, 30 + 19 * len(features) + 62, left=left, right=96, top=12, bottom=62)
    centre, slot = frame.band(len(labels))
    row_h = (frame.y1 - frame.y0) / max(1, len(features))
    for r, name in enumerate(features):
        y = frame.y0 + row_h * r
        frame.text(frame.x0 - 6, y + row_h / 2, name, "end", INK)
        for c, label in enumerate(labels):
            value = float(severity[r, c])
            seen = bool(judged[r, c])
            state = "drifted" if drifted[r, c] else ("judged" if seen else "not judged")
            frame.rect(centre(c) - slot / 2, y, slot + 0.5, row_h + 0.5,
                       severity_colour(value) if seen else "#eceff3", f"{name}, {label}: {value:.2f} ({state})")
            if drifted[r, c]:
                frame.dot(centre(c), y + row_h / 2, 2.6, INK)
    frame.x_categories(labels, centre)
    _colour_bar(frame, frame.x1 + 14, frame.y0, min(150.0, frame.y1 - frame.y0))
    return frame.svg("feature drift heatmap")


def _colour_bar(frame: Frame, x: float, top: float, height: float) -> None:
    """The heatmap's key: the colour scale from 0 to 2 (1 = the threshold), in steps."""
    steps = 40
    for k in range(steps):
        value = 2 * (1 - (k + 0.5) / steps)
        frame.rect(x, top + height * k / steps, 12, height / steps + 0.4, severity_colour(value))
    for value in (0.0, 0.5, 1.0, 1.5, 2.0):
        y = top + height * (1 - value / 2)
        frame.line(x + 12, y, x + 16, y, MUTED)
        frame.text(x + 19, y, f"{value:.2f}", size=10)
    frame.text(x + 62, top + height / 2, "distance / threshold", "middle", INK, size=10, rotate=90)


def feature_bars(items: Sequence[dict[str, Any]], limit: int = 22) -> str:
    """Per-feature distance over threshold, drifted first; the dashed line is the threshold."""
    items = list(items)[:limit]
    left = 12 + max((text_width(str(i["feature"]), 11) for i in items), default=60)
    frame = Frame(WIDE, 34 + 23 * max(1, len(items)) + 44, left=left, right=20, top=34, bottom=44)
    values = [min(float(i["severity"]), 4.0) for i in items]
    room = 1.6 if any(i["severity"] > 1.0 for i in items) else 0.0  # for the verdicts' text
    x = Linear(0.0, max(2.0, max(values, default=1.0) * 1.35) + room, frame.x0, frame.x1)
    row_h = (frame.y1 - frame.y0) / max(1, len(items))
    for k, (item, value) in enumerate(zip(items, values, strict=True)):
        y = frame.y0 + row_h * (k + 0.5)
        colour = RISK if item["drifted"] else (ACCENT if item["judged"] else NOT_JUDGED)
        figure = f"{_method_short(item['method'])} {item['value']:.3f}{_verdict(item)}"
        frame.text(frame.x0 - 6, y, str(item["feature"]), "end", INK)
        frame.rect(x(0), y - row_h * 0.35, x(value) - x(0), row_h * 0.7, colour, f"{item['feature']}: {figure}")
        frame.text(x(value) + 4, y, figure, fill=RISK if item["drifted"] else MUTED, size=10)
    frame.line(x(1.0), frame.y0, x(1.0), frame.y1, INK, 1, dash=True)
    frame.x_numbers(x, [t for t in nice_ticks(0, x.high, 7, integer=True) if t <= x.high], tick_text,
                    "distance / threshold")
    frame.legend([Key("drifted", RISK), Key("within threshold", ACCENT), Key("not judged", NOT_JUDGED),
                  Key("threshold", INK, "dashed")], y=14)
    return frame.svg("per-feature drift")


def _verdict(item: dict[str, Any]) -> str:
    """What a bar past the threshold means: drifted, not significant, or why it is not judged."""
    if item["severity"] <= 1.0:
        return ""
    if item["drifted"]:
        return " · drifted"
    if item["judged"]:
        return " · not significant"
    note = str(item.get("note", ""))
    for start, reason in (("calendar", "calendar"), ("not judged in hour", "hour window"),
                          ("not judged yet", "window open"), ("too few", "few rows"), ("no profile", "no hub profile")):
        if note.startswith(start):
            return f" · not judged: {reason}"
    return " · not judged"


def _method_short(method: str) -> str:
    return {"wasserstein": "W", "jensen_shannon": "JS", "psi": "PSI"}.get(method, method)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def score_histogram(histogram: dict[str, list[float]]) -> str:
    """Reference vs now on log-spaced score bins."""
    frame = Frame(576.0, 250.0, left=72, right=20, top=40, bottom=52)
    edges = [float(e) for e in histogram.get("edges", [])]
    positive = [e for e in edges if e > 0]
    if len(edges) < 2 or not positive:
        frame.text(frame.width / 2, frame.height / 2, "no scores", "middle")
        return frame.svg("score histogram, reference vs now")
    floor = min(positive)
    x = Log(floor, max(edges), frame.x0, frame.x1)
    reference, now = histogram["reference"], histogram["now"]
    ticks = nice_ticks(0, max([*reference, *now, 0.01]) * 1.08, 5)
    y = _scale(frame, ticks)

    def steps(shares: Sequence[float]) -> list[tuple[float, float] | None]:
        points: list[tuple[float, float] | None] = [(x(max(edges[0], floor)), y(0))]
        for k, share in enumerate(shares):
            points += [(x(max(edges[k], floor)), y(share)), (x(edges[k + 1]), y(share))]
        return [*points, (x(edges[-1]), y(0))]

    frame.polyline(steps(reference), "none", 0, fill=MUTED, opacity=0.35)
    frame.polyline(steps(now), RISK, 2)
    frame.y_axis(y, ticks, "share of parcels", fmt=lambda v: f"{v:g}")
    powers = range(math.ceil(math.log10(floor)), math.floor(math.log10(max(edges))) + 1)
    frame.x_numbers(x, [10.0 ** p for p in powers], lambda v: "10" + str(round(math.log10(v))).translate(_SUPERSCRIPT),
                    "risk score (log scale)")
    frame.legend([Key("training reference", "#c9ccd3"), Key("this window", RISK, "line")], y=14)
    return frame.svg("score histogram, reference vs now")


def operations(labels: Sequence[str], windows: Sequence[Any]) -> str:
    """Flagged parcels against capacity, and the in-scope volume, per window."""
    frame = Frame(WIDE, TALL, right=74, top=40, bottom=56)
    centre, slot = frame.band(len(labels))
    flagged = [float(w.flagged) for w in windows]
    capacity = [float(w.capacity) for w in windows]
    ticks = _ticks(flagged + capacity)
    y = _scale(frame, ticks)
    over = [bool(w.capacity and w.flagged > 1.25 * w.capacity) for w in windows]
    for i, (label, w) in enumerate(zip(labels, windows, strict=True)):
        frame.rect(centre(i) - slot * 0.35, y(w.flagged), slot * 0.7, y(0) - y(w.flagged), RISK if over[i] else ACCENT,
                   f"{label}: {w.flagged:,} flagged, capacity {w.capacity:,.0f}, {w.in_scope:,} in scope")
    step: list[tuple[float, float] | None] = []
    for i, c in enumerate(capacity):
        step += [(centre(i - 0.5), y(c)), (centre(i + 0.5), y(c))]
    frame.polyline(step, INK, 1.5)
    in_scope = [float(w.in_scope) for w in windows]
    low, high = min(in_scope, default=0.0), max(in_scope, default=1.0)
    pad = max((high - low) * 0.08, 1.0)
    right_ticks = nice_ticks(max(0.0, low - pad), high + pad, 4)
    twin = frame.y(min(right_ticks[0], low), max(right_ticks[-1], high))
    frame.polyline([(centre(i), twin(v)) for i, v in enumerate(in_scope)], MUTED, 1)
    for i, v in enumerate(in_scope):
        frame.dot(centre(i), twin(v), 2.2, MUTED)
    frame.y_axis(y, ticks, "parcels")
    frame.y_axis(twin, [t for t in right_ticks if twin.low <= t <= twin.high], "in-scope parcels", right=True)
    frame.x_categories(labels, centre)
    keys = [Key("capacity", INK, "line"), Key("flagged", ACCENT)] + ([Key("over capacity", RISK)] if any(over) else [])
    frame.legend([*keys, Key("in scope", MUTED, "dot")])
    return frame.svg("flagged vs capacity")


def rates(labels: Sequence[str], windows: Sequence[Any]) -> str:
    """Hit rate of screened parcels and the exploration-based miss-rate estimate, with 95% intervals."""
    frame = Frame(WIDE, TALL, top=40, bottom=56)
    centre, _ = frame.band(len(labels))
    series = (("hit", OK, "hit rate of screened parcels", -0.12),
              ("miss", RISK, "miss rate among released (exploration est.)", 0.12))
    shown = {attr: [(i, getattr(w, attr)) for i, w in enumerate(windows)
                    if getattr(w, attr).n > 0 and math.isfinite(getattr(w, attr).rate)] for attr, *_ in series}
    ticks = _ticks([r.high for found in shown.values() for _, r in found], headroom=1.05)
    y = _scale(frame, ticks)
    for attr, colour, name, offset in series:
        for i, r in shown[attr]:
            x = centre(i + offset)
            low, high = min(r.low, r.rate), max(r.high, r.rate)
            frame.line(x, y(low), x, y(high), colour, 1.2)
            for end in (low, high):
                frame.line(x - 3, y(end), x + 3, y(end), colour, 1.2)
            frame.dot(x, y(r.rate), 3, colour, f"{labels[i]}: {name} {_percent(r.rate)} "
                                               f"(95% CI {_percent(r.low)}–{_percent(r.high)}, n={r.n:,.0f})")
    frame.y_axis(y, ticks, fmt=lambda v: f"{round(v * 100, 2):g}%")
    frame.x_categories(labels, centre)
    frame.legend([Key(name, colour, "dot") for _, colour, name, _ in series])
    return frame.svg("hit rate and miss rate")


def drift_trend(labels: Sequence[str], drifted: Sequence[int], score_psi: Sequence[float], threshold: float) -> str:
    """Drifted features per window (bars) and the score distribution's PSI (line)."""
    frame = Frame(WIDE, 250.0, right=70, top=34, bottom=56)
    centre, slot = frame.band(len(labels))
    ticks = nice_ticks(0, max(1, max(drifted, default=0)) * 1.1, 5, integer=True)  # a count: whole numbers from 0
    y = _scale(frame, ticks)
    for i, (label, count) in enumerate(zip(labels, drifted, strict=True)):
        frame.rect(centre(i) - slot * 0.35, y(count), slot * 0.7, y(0) - y(count), RISK if count else "#cfd5de",
                   f"{label}: {count} drifted feature(s)")
    psi = [v if v is not None and math.isfinite(v) else None for v in score_psi]
    top = max(threshold * 1.6, max((v for v in psi if v is not None), default=0.0) * 1.2)
    psi_ticks = nice_ticks(0, top, 5)
    twin = frame.y(0, max(top, psi_ticks[-1]))
    frame.line(frame.x0, twin(threshold), frame.x1, twin(threshold), ACCENT, 1, dash=True)
    frame.polyline([(centre(i), twin(v)) if v is not None else None for i, v in enumerate(psi)], ACCENT, 1.5)
    for i, v in enumerate(psi):
        if v is not None:
            frame.dot(centre(i), twin(v), 3, ACCENT, f"{labels[i]}: score PSI {v:.3f}")
    frame.y_axis(y, ticks, "drifted features")
    frame.y_axis(twin, psi_ticks, "score PSI", right=True, colour=ACCENT, fmt=lambda v: f"{v:g}")
    frame.x_categories(labels, centre)
    frame.legend([Key("features drifted", RISK), Key("score PSI", ACCENT, "dot"),
                  Key(f"PSI threshold {threshold:g}", ACCENT, "dashed")])
    return frame.svg("drift trend")


def origin_volume(labels: Sequence[str], by_origin: Sequence[dict[str, int]], top: int = 6) -> str:
    """Parcels per window by origin province (the largest few, the rest pooled)."""
    totals: dict[str, int] = {}
    for counts in by_origin:
        for origin, n in counts.items():
            totals[origin] = totals.get(origin, 0) + n
    names = sorted(totals, key=lambda o: -totals[o])[:top]
    series = [(name, [c.get(name, 0) for c in by_origin]) for name in names]
    series.append(("other", [sum(v for k, v in c.items() if k not in names) for c in by_origin]))
    frame = Frame(WIDE, 280.0, top=52, bottom=56)
    centre, slot = frame.band(len(labels))
    ticks = _ticks([float(sum(c.values())) for c in by_origin], headroom=1.05)
    y = _scale(frame, ticks)
    base = [0.0] * len(labels)
    for (name, values), colour in zip(series, ORIGIN_COLOURS, strict=False):
        for i, v in enumerate(values):
            frame.rect(centre(i) - slot * 0.375, y(base[i] + v), slot * 0.75, y(base[i]) - y(base[i] + v), colour,
                       f"{labels[i]}: {v:,} from {name}")
            base[i] += v
    frame.y_axis(y, ticks, "parcels")
    frame.x_categories(labels, centre)
    frame.legend([Key(name, colour) for (name, _), colour in zip(series, ORIGIN_COLOURS, strict=False)], columns=4)
    return frame.svg("volume by origin")


def version_metrics(versions: Sequence[dict[str, Any]]) -> str:
    """Held-out metrics per registered version; the live ones are labelled."""
    metrics = [("test_recall_at_capacity", "recall at capacity", ACCENT),
               ("test_precision_at_capacity", "precision at capacity", OK),
               ("test_pr_auc", "PR-AUC", AMBER), ("test_recall_ratio_to_perfect", "recall / perfect", "#7b3fb3")]
    frame = Frame(WIDE, TALL, top=40, bottom=50)
    centre, slot = frame.band(len(versions))
    y = frame.y(0, 1)
    width = 0.8 / len(metrics)
    for v_index, v in enumerate(versions):
        for k, (key, name, colour) in enumerate(metrics):
            value = v["metrics"].get(key)
            if value is not None and math.isfinite(value):
                x = centre(v_index - 0.4 + width * k)
                frame.rect(x, y(value), slot * width, y(0) - y(value), colour, f"v{v['version']}: {name} {value:.3f}")
    frame.y_axis(y, nice_ticks(0, 1, 5), fmt=lambda t: f"{t:g}")
    frame.x_categories([f"v{v['version']}" + (f"\n{', '.join(v['aliases'])}" if v["aliases"] else "")
                        for v in versions], centre)
    frame.legend([Key(name, colour) for _, name, colour in metrics])
    return frame.svg("held-out metrics per version")
