"""Several worlds of one simulation side by side, so that a gap between arms can be told from noise.

One generated world is one draw: which rings ship when, which of their parcels a retrained model
happens to see. The same configuration run on several seeds gives each arm's summary per seed, the
mean and range over seeds, and, for the system against exploration off (both run on the same world,
so each seed is a pair), the mean paired difference with a 95% t-interval over seeds.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
from rich.table import Table
from scipy import stats

from parcelguard.config import Settings
from training.simulation import report as simulation_report
from training.simulation.report import cell
from training.simulation.simulate import SimConfig, run

# The summary figures compared across seeds, and those the system is paired with exploration off on.
FIGURES = ("mean_ratio", "mean_ratio_before_new_pattern", "mean_ratio_after_new_pattern", "new_pattern_caught",
           "days_to_recover")
PAIRED = ("mean_ratio", "mean_ratio_after_new_pattern", "new_pattern_caught")
PAIR = ("system", "no_exploration")
K = TypeVar("K")


def run_seed(settings: Settings, config: SimConfig, out_dir: Path, keep_logs: bool = False) -> dict[str, Any]:
    """One seed's full simulation; writes its report under ``out_dir`` and returns its summary."""
    result = run(settings, config, workdir=out_dir / "logs" if keep_logs else None)
    simulation_report.write(result, out_dir)
    return simulation_report.summary(result)


def run_seeds(
    settings: Settings, config: SimConfig, seeds: list[int], out: Path, jobs: int = 1, keep_logs: bool = False,
    done: Callable[[int], None] | None = None,
) -> dict[int, dict[str, Any]]:
    """Each seed in its own process (``jobs`` at a time), its report in ``out/seed-N``; summaries by seed."""
    runs = {seed: (replace(config, seed=seed), out / f"seed-{seed}") for seed in seeds}
    return dict(sorted(run_many(settings, runs, jobs, keep_logs, done).items()))


def run_many(
    settings: Settings, runs: dict[K, tuple[SimConfig, Path]], jobs: int = 1, keep_logs: bool = False,
    done: Callable[[K], None] | None = None,
) -> dict[K, dict[str, Any]]:
    """Each run (a configuration and its report folder) in its own process, ``jobs`` at a time; summaries by key."""
    summaries: dict[K, dict[str, Any]] = {}
    # Spawned, not forked: the parent may hold a progress thread and open database handles.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        futures = {pool.submit(run_seed, settings, config, folder, keep_logs): key
                   for key, (config, folder) in runs.items()}
        for future in as_completed(futures):
            key = futures[future]
            summaries[key] = future.result()
            if done is not None:
                done(key)
    return summaries


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _spread(values: list[Any]) -> dict[str, Any]:
    finite = _finite(values)
    return {"mean": float(np.mean(finite)) if finite else math.nan, "min": min(finite, default=math.nan),
            "max": max(finite, default=math.nan), "values": values}


def paired_difference(first: list[float], second: list[float]) -> dict[str, float]:
    """Mean of ``first - second`` over pairs, with a 95% t-interval (nan bounds for fewer than two pairs)."""
    diffs = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    diffs = diffs[np.isfinite(diffs)]
    mean = float(diffs.mean()) if len(diffs) else math.nan
    if len(diffs) < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "pairs": len(diffs), "better": 0}
    half = float(stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "pairs": len(diffs),
            "better": int((diffs > 0).sum())}


def combine(summaries: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per arm and figure: values by seed, mean, min and max; and the system's paired lead over exploration off."""
    seeds = sorted(summaries)
    arms = [a for a in summaries[seeds[0]] if isinstance(summaries[seeds[0]][a], dict)] if seeds else []
    combined: dict[str, Any] = {"seeds": seeds, "arms": {}, "system_minus_no_exploration": {}}
    for arm in arms:
        combined["arms"][arm] = {key: _spread([summaries[s][arm].get(key) for s in seeds])
                                 for key in FIGURES if key in summaries[seeds[0]][arm]}
    if all(arm in arms for arm in PAIR):
        for key in PAIRED:
            if key in summaries[seeds[0]][PAIR[0]]:
                firsts = [_nan(summaries[s][PAIR[0]].get(key)) for s in seeds]
                seconds = [_nan(summaries[s][PAIR[1]].get(key)) for s in seeds]
                combined["system_minus_no_exploration"][key] = paired_difference(firsts, seconds)
    return combined


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _days(value: Any) -> str:
    return "never" if value is None else cell(value, 0)


def rows(combined: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The comparison as plain strings: one row per arm and figure, a column per seed, then mean and range."""
    seeds = combined["seeds"]
    header = ["arm", "figure", *[f"seed {s}" for s in seeds], "mean", "min–max"]
    body: list[list[str]] = []
    for arm, figures in combined["arms"].items():
        if arm == "all_priority":
            continue
        for key, spread in figures.items():
            digits = 0 if key == "days_to_recover" else 3
            low, high = cell(spread["min"], digits), cell(spread["max"], digits)
            cells = [_days(v) if digits == 0 else cell(v, 3) for v in spread["values"]]
            body.append([simulation_report.LABELS.get(arm, arm), key, *cells,
                         cell(spread["mean"], 1 if digits == 0 else 3), "–" if low == "–" else f"{low}–{high}"])
    for key, diff in combined["system_minus_no_exploration"].items():
        interval = f"95% CI {cell(diff['low'], 3)} to {cell(diff['high'], 3)}"
        body.append(["system − no explore", key, *["" for _ in seeds], f"{diff['mean']:+.3f}",
                     f"{interval}; ahead on {diff['better']}/{diff['pairs']}"])
    return header, body


def rich_table(combined: dict[str, Any]) -> Table:
    header, body = rows(combined)
    table = Table(title="the same simulation on several worlds (ratios to a perfect ranking)")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in body:
        table.add_row(*row)
    return table


def markdown(combined: dict[str, Any]) -> str:
    return simulation_report.markdown_table(*rows(combined))


def write(combined: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "seeds.json", "markdown": out / "seeds.md"}
    paths["json"].write_bytes(orjson.dumps(combined, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    paths["markdown"].write_text(markdown(combined) + "\n")
    return paths
