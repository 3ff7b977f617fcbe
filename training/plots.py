"""PNG figures for training runs (logged to MLflow) and the closed-loop simulation report.

Built with matplotlib's object API (never pyplot), so nothing global is touched and no display is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

COLOURS = {"system": "#1f4fd1", "no_exploration": "#c77700", "rules_only": "#7b3fb3", "random": "#9aa1ad",
           "all_priority": "#1b7f3b", "perfect": "#1d2330"}


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def capacity_curve(rows: Sequence[Mapping[str, float]], share: float, path: Path) -> Path:
    """Recall and precision against the screening share, beside the perfect ranking's."""
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    x = [100 * r["share"] for r in rows]
    for ax, key, title in ((left, "recall", "recall at capacity"), (right, "precision", "precision at capacity")):
        ax.plot(x, [r[key] for r in rows], marker="o", ms=3, label="model", color=COLOURS["system"])
        ax.plot(x, [r[f"perfect_{key}"] for r in rows], ls="--", label="perfect ranking", color=COLOURS["perfect"])
        ax.axvline(100 * share, color="#b3261e", lw=0.8, label=f"capacity {share:.0%}")
        ax.set_xscale("log")
        ax.set_xlabel("share of in-scope parcels screened (%)")
        ax.set_title(title)
        ax.set_ylim(0, 1.02)
    left.legend(fontsize=8)
    return _save(fig, path)


def calibration(table: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Reliability diagram: mean predicted against observed (IPW-weighted) rate per score bin."""
    fig = Figure(figsize=(4.2, 4), layout="constrained")
    ax = fig.subplots()
    predicted = [r["predicted"] for r in table]
    observed = [r["observed"] for r in table]
    top = max([*predicted, *observed, 1e-4]) * 1.1
    ax.plot([0, top], [0, top], ls="--", color="#9aa1ad", lw=1)
    ax.plot(predicted, observed, marker="o", color=COLOURS["system"])
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed contraband rate")
    ax.set_title("calibration (held-out period)")
    return _save(fig, path)


def importance(gains: Mapping[str, float], path: Path, top: int = 20) -> Path:
    items = sorted(gains.items(), key=lambda kv: -kv[1])[:top][::-1]
    fig = Figure(figsize=(6, 0.25 * len(items) + 1), layout="constrained")
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items], color=COLOURS["system"])
    ax.set_xlabel("total gain")
    ax.set_title("feature importance")
    ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def simulation(days: Sequence[Mapping[str, Any]], arms: Sequence[str], new_pattern_day: int | None,
               retrain_days: Sequence[int], path: Path) -> Path:
    """Per day: each arm's share of contraband caught, its ratio to the perfect ranking, and the new pattern."""
    fig = Figure(figsize=(9, 8), layout="constrained")
    share_ax, ratio_ax, novel_ax = fig.subplots(3, 1, sharex=True, height_ratios=(2, 3, 2))
    x = [d["day"] for d in days]
    share_ax.plot(x, [d["perfect"]["expected_share"] for d in days], label="perfect ranking", color=COLOURS["perfect"],
                  ls="--")
    for arm in arms:
        share_ax.plot(x, [d["arms"][arm]["expected_share"] for d in days], label=arm.replace("_", " "),
                      color=COLOURS.get(arm), lw=2 if arm == "system" else 1.2)
        if arm != "all_priority":
            ratio_ax.plot(x, [d["arms"][arm]["ratio"] for d in days], label=arm.replace("_", " "),
                          color=COLOURS.get(arm), lw=2 if arm == "system" else 1.2)
    share_ax.set_ylabel("share of contraband\ncaught (expected)")
    share_ax.set_ylim(0, 1.05)
    share_ax.legend(fontsize=7, ncol=3, loc="lower left")
    share_ax.set_title("closed loop at the screening capacity (100% priority screens every in-scope parcel)")
    ratio_ax.axhline(0.85, color="#b3261e", lw=0.8, ls=":", label="85% target")
    ratio_ax.axhline(0.80, color="#b3261e", lw=0.6, ls="--", label="80% recovery line")
    ratio_ax.set_ylabel("catch / perfect ranking")
    ratio_ax.set_ylim(0, 1.05)
    ratio_ax.legend(fontsize=7, ncol=3, loc="lower left")
    for arm in ("system", "no_exploration"):
        if arm in arms:
            novel_ax.plot(x, [d["arms"][arm].get("new_pattern_caught") for d in days], label=arm.replace("_", " "),
                          color=COLOURS[arm], marker="o", ms=3)
    novel_ax.set_ylabel("new pattern:\nshare caught")
    novel_ax.set_xlabel("simulated day (red: new pattern appears; grey: a retrained model went live)")
    novel_ax.set_ylim(-0.02, 1.02)
    novel_ax.legend(fontsize=7)
    for ax in (share_ax, ratio_ax, novel_ax):
        if new_pattern_day is not None:
            ax.axvline(new_pattern_day, color="#b3261e", lw=1)
        for day in retrain_days:
            ax.axvline(day + 0.5, color="#dfe3ea", lw=0.8, zorder=0)
    return _save(fig, path)
