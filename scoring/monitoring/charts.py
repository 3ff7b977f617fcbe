"""Charts for the drift report and the analyst pages: matplotlib figures rendered to inline SVG strings.

Inline SVG keeps a report one self-contained file (no CDN, no image files) and lets the browser
scale it; text stays text (``svg.fonttype: none``), so it is searchable and crisp. Figures are
built with the object API, never pyplot, so concurrent requests do not share state.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from models.features import CHINA_TZ

INK, MUTED, LINE = "#1d2330", "#5d6575", "#dfe3ea"
RISK, OK, ACCENT, AMBER = "#b3261e", "#1b7f3b", "#1f4fd1", "#c77700"
SEVERITY = LinearSegmentedColormap.from_list("severity", ["#eaf6ee", "#fff4cc", "#f6b26b", RISK])
ORIGIN_COLOURS = ["#1f4fd1", "#c77700", "#1b7f3b", "#7b3fb3", "#b3261e", "#0f8a8a", "#9aa1ad"]
# Typed Any: matplotlib types rcParams keys as a Literal union a plain dict cannot satisfy.
RC: Any = {"svg.fonttype": "none", "font.size": 9, "axes.edgecolor": LINE, "axes.labelcolor": INK,
      "xtick.color": MUTED, "ytick.color": MUTED, "axes.titlesize": 10, "axes.titleweight": "bold",
      "axes.spines.top": False, "axes.spines.right": False, "font.family": "DejaVu Sans"}


def _figure(width: float, height: float, left: float = 0.65, right: float = 0.2, bottom: float = 0.55,
            top: float = 0.4) -> Figure:
    """A figure with fixed margins in inches (a layout engine costs more than the drawing here)."""
    fig = Figure(figsize=(width, height), dpi=100)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    return fig


def to_svg(fig: Figure, label: str) -> str:
    """The figure as an inline ``<svg>`` element that shrinks with its container but never grows past
    its drawn size (text would swell otherwise)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], count=1, flags=re.S)
    width_px = fig.get_figwidth() * 96
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  rf'<svg\1 class="chart" role="img" aria-label="{_escape(label)}" '
                  rf'style="max-width:{width_px:.0f}px"', text, count=1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def window_label(start: Any, granularity: str) -> str:
    local = start.astimezone(CHINA_TZ)
    return local.strftime("%m-%d %Hh") if granularity == "hour" else local.strftime("%m-%d")


def _ticks(ax: Any, labels: Sequence[str]) -> None:
    step = max(1, math.ceil(len(labels) / 14))
    ax.set_xticks(range(0, len(labels), step))
    crowded = len(labels) > 7
    ax.set_xticklabels(labels[::step], rotation=45 if crowded else 0, ha="right" if crowded else "center")


def drift_heatmap(features: Sequence[str], labels: Sequence[str], severity: np.ndarray, judged: np.ndarray,
                  drifted: np.ndarray) -> str:
    """Features (rows) by windows (columns): colour = distance over threshold; ● = drifted; grey = not judged."""
    with matplotlib.rc_context(RC):
        fig = _figure(min(11.0, max(7.2, 4.2 + 0.42 * len(labels))), 1.2 + 0.2 * len(features), left=1.9, right=0.4,
                      bottom=0.75, top=0.15)
        ax = fig.add_subplot()
        shown = np.where(judged, np.clip(severity, 0, 2), np.nan)
        cmap = SEVERITY.with_extremes(bad="#eceff3")
        image = ax.imshow(shown, aspect="auto", cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
        rows, cols = np.nonzero(drifted)
        ax.scatter(cols, rows, marker="o", s=14, color=INK, label="drifted")
        ax.set_yticks(range(len(features)))
        ax.set_yticklabels(features)
        _ticks(ax, labels)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, shrink=0.6, pad=0.01)
        bar.set_label("distance / threshold (1 = threshold)")
        bar.outline.set_visible(False)
    return to_svg(fig, "feature drift heatmap")


def feature_bars(items: Sequence[dict[str, Any]], limit: int = 22) -> str:
    """Per-feature distance over threshold, drifted first; the dashed line is the threshold."""
    items = list(items)[:limit][::-1]
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 1.1 + 0.24 * max(1, len(items)), left=1.9, right=0.2, bottom=0.5, top=0.15)
        ax = fig.add_subplot()
        values = [min(i["severity"], 4.0) for i in items]
        colours = [RISK if i["drifted"] else (ACCENT if i["judged"] else "#b8bfca") for i in items]
        ax.barh(range(len(items)), values, color=colours, height=0.7)
        for y, item in enumerate(items):
            text = f"{_method_short(item['method'])} {item['value']:.3f}{_verdict(item)}"
            ax.text(min(item["severity"], 4.0) + 0.03, y, text, va="center", fontsize=8,
                    color=RISK if item["drifted"] else MUTED)
        ax.axvline(1.0, color=INK, linestyle="--", linewidth=1)
        ax.set_yticks(range(len(items)))
        ax.set_yticklabels([i["feature"] for i in items])
        room = 1.6 if any(i["severity"] > 1.0 for i in items) else 0.0  # for the verdicts' text
        ax.set_xlim(0, max(2.0, max(values, default=1.0) * 1.35) + room)
        ax.set_xlabel("distance / threshold")
        ax.legend(handles=[Patch(color=RISK, label="drifted"), Patch(color=ACCENT, label="within threshold"),
                           Patch(color="#b8bfca", label="not judged")], loc="lower right", frameon=False, fontsize=8)
    return to_svg(fig, "per-feature drift")


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


def score_histogram(histogram: dict[str, list[float]]) -> str:
    """Reference vs now on log-spaced score bins."""
    edges = np.asarray(histogram.get("edges", []), dtype=float)
    with matplotlib.rc_context(RC):
        fig = _figure(6.0, 2.6, left=0.75, bottom=0.55, top=0.15)
        ax = fig.add_subplot()
        if len(edges) > 1:
            ax.stairs(histogram["reference"], edges, fill=True, color=MUTED, alpha=0.35, label="training reference")
            ax.stairs(histogram["now"], edges, color=RISK, linewidth=2, label="this window")
            ax.set_xscale("log")
            ax.legend(frameon=False)
        else:
            ax.text(0.5, 0.5, "no scores", ha="center", va="center", transform=ax.transAxes, color=MUTED)
        ax.set_xlabel("risk score (log scale)")
        ax.set_ylabel("share of parcels")
    return to_svg(fig, "score histogram, reference vs now")


def operations(labels: Sequence[str], windows: Sequence[Any]) -> str:
    """Flagged parcels against capacity, and the in-scope volume, per window."""
    x = np.arange(len(labels))
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.8, right=0.75, bottom=0.75, top=0.45)
        ax = fig.add_subplot()
        flagged = [w.flagged for w in windows]
        ax.bar(x, flagged, color=ACCENT, width=0.7, label="flagged")
        ax.step(x, [w.capacity for w in windows], where="mid", color=INK, linewidth=1.5, label="capacity")
        over = [i for i, w in enumerate(windows) if w.capacity and w.flagged > 1.25 * w.capacity]
        if over:
            ax.bar(over, [flagged[i] for i in over], color=RISK, width=0.7, label="over capacity")
        ax.set_ylabel("parcels")
        _ticks(ax, labels)
        twin = ax.twinx()
        twin.plot(x, [w.in_scope for w in windows], color=MUTED, marker=".", linewidth=1, label="in scope")
        twin.set_ylabel("in-scope parcels", color=MUTED)
        twin.spines["top"].set_visible(False)
        handles = ax.get_legend_handles_labels()
        extra = twin.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], frameon=False, ncols=4, loc="upper left",
                  bbox_to_anchor=(0, 1.2))
    return to_svg(fig, "flagged vs capacity")


def rates(labels: Sequence[str], windows: Sequence[Any]) -> str:
    """Hit rate of screened parcels and the exploration-based miss-rate estimate, with 95% intervals."""
    x = np.arange(len(labels))
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.8, bottom=0.75, top=0.45)
        ax = fig.add_subplot()
        for offset, attr, colour, name in ((-0.12, "hit", OK, "hit rate of screened parcels"),
                                           (0.12, "miss", RISK, "miss rate among released (exploration est.)")):
            rates_ = [getattr(w, attr) for w in windows]
            keep = [i for i, r in enumerate(rates_) if r.n > 0 and math.isfinite(r.rate)]
            if keep:
                centre = np.array([rates_[i].rate for i in keep])
                low = np.clip(centre - np.array([rates_[i].low for i in keep]), 0, None)
                high = np.clip(np.array([rates_[i].high for i in keep]) - centre, 0, None)
                ax.errorbar(x[keep] + offset, centre, yerr=[low, high], fmt="o", color=colour, capsize=3,
                            markersize=4, label=name)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        _ticks(ax, labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, 1.2), ncols=2)
    return to_svg(fig, "hit rate and miss rate")


def drift_trend(labels: Sequence[str], drifted: Sequence[int], score_psi: Sequence[float], threshold: float) -> str:
    """Drifted features per window (bars) and the score distribution's PSI (line)."""
    x = np.arange(len(labels))
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.6, right=0.75, bottom=0.75, top=0.15)
        ax = fig.add_subplot()
        ax.bar(x, drifted, color=[RISK if d else "#cfd5de" for d in drifted], width=0.7)
        ax.set_ylabel("drifted features")
        ax.set_ylim(0, max(1, max(drifted, default=0)) * 1.1)  # a count: from 0, whole numbers, even when all 0
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        _ticks(ax, labels)
        twin = ax.twinx()
        psi = np.array([v if v is not None and math.isfinite(v) else np.nan for v in score_psi])
        twin.plot(x, psi, color=ACCENT, marker="o", markersize=4, label="score PSI")
        twin.axhline(threshold, color=ACCENT, linestyle="--", linewidth=1)
        twin.set_ylabel("score PSI", color=ACCENT)
        twin.set_ylim(bottom=0, top=max(threshold * 1.6, float(np.nanmax(psi)) * 1.2 if np.isfinite(psi).any() else 1))
        twin.spines["top"].set_visible(False)
    return to_svg(fig, "drift trend")


def origin_volume(labels: Sequence[str], by_origin: Sequence[dict[str, int]], top: int = 6) -> str:
    """Parcels per window by origin province (the largest few, the rest pooled)."""
    totals: dict[str, int] = {}
    for counts in by_origin:
        for origin, n in counts.items():
            totals[origin] = totals.get(origin, 0) + n
    names = sorted(totals, key=lambda o: -totals[o])[:top]
    x = np.arange(len(labels))
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.9, bottom=0.75, top=0.6)
        ax = fig.add_subplot()
        bottom = np.zeros(len(labels))
        series = [(name, [c.get(name, 0) for c in by_origin]) for name in names]
        series.append(("other", [sum(v for k, v in c.items() if k not in names) for c in by_origin]))
        for (name, values), colour in zip(series, ORIGIN_COLOURS, strict=False):
            ax.bar(x, values, bottom=bottom, color=colour, width=0.75, label=name)
            bottom += np.asarray(values, dtype=float)
        _ticks(ax, labels)
        ax.set_ylabel("parcels")
        ax.legend(frameon=False, ncols=4, fontsize=8, loc="upper left", bbox_to_anchor=(0, 1.3))
    return to_svg(fig, "volume by origin")


def version_metrics(versions: Sequence[dict[str, Any]]) -> str:
    """Held-out metrics per registered version; the live ones are labelled."""
    metrics = [("test_recall_at_capacity", "recall at capacity"),
               ("test_precision_at_capacity", "precision at capacity"),
               ("test_pr_auc", "PR-AUC"), ("test_recall_ratio_to_perfect", "recall / perfect")]
    x = np.arange(len(versions))
    width = 0.8 / len(metrics)
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.8, bottom=0.7, top=0.45)
        ax = fig.add_subplot()
        for k, ((key, name), colour) in enumerate(zip(metrics, [ACCENT, OK, AMBER, "#7b3fb3"], strict=True)):
            values = [v["metrics"].get(key, np.nan) for v in versions]
            ax.bar(x - 0.4 + width * (k + 0.5), values, width=width, color=colour, label=name)
        ax.set_xticks(x)
        ax.set_xticklabels([f"v{v['version']}" + (f"\n{', '.join(v['aliases'])}" if v["aliases"] else "")
                            for v in versions])
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, ncols=4, fontsize=8, loc="upper left", bbox_to_anchor=(0, 1.2))
    return to_svg(fig, "held-out metrics per version")


def warm() -> None:
    """Draw a small chart and drop it: the first figure of a process loads fonts and the SVG backend."""
    drift_trend(["a", "b"], [0, 1], [0.1, 0.2], 0.2)
