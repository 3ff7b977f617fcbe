"""Several kinds of new pattern, each on several worlds: the issue-14 targets per kind, side by side.

Role: runs every (kind, seed) simulation (one process each, ``jobs`` at a time), writes each kind's
per-seed comparison (``seeds``) under ``out/KIND/``, and sums each kind up against the targets: the
system's mean catch before and after the new pattern (≥ ``TARGET`` of a perfect ranking), the days
until its 3-day mean is back at ``TARGET`` (within ``RECOVERY_WITHIN`` days), and the system against
exploration off after the new pattern: the mean paired difference over seeds with its 95% t-interval
(and, when the run has it, against the previous score-weighted exploration).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.table import Table

from parcelguard.config import Settings
from training.simulation import seeds as simulation_seeds
from training.simulation.report import RECOVERY, TARGET, cell, markdown_table
from training.simulation.simulate import SimConfig

RECOVERY_WITHIN = 5  # days after the new pattern by which the 3-day mean must be back at the target
AFTER = "mean_ratio_after_new_pattern"


@dataclass(frozen=True)
class KindTargets:
    """One kind of new pattern over its seeds: the figures the targets are judged on."""

    kind: str
    seeds: list[int]
    before: float  # the system's mean catch before the new pattern, mean over seeds
    after: float
    days_back: list[int | None]  # per seed: days until the 3-day mean is back at RECOVERY (None: never)
    versus_off: dict[str, float]  # system − exploration off after the new pattern: mean, low, high, pairs, better
    versus_score: dict[str, float] | None  # system − score-weighted exploration, when that arm ran
    off_after: float
    new_pattern_caught: float

    @property
    def met(self) -> dict[str, bool]:
        back = [d for d in self.days_back if d is not None and d <= RECOVERY_WITHIN]
        return {
            "before": self.before >= TARGET,
            "after": self.after >= TARGET,
            "recovery": len(back) == len(self.days_back),
            "versus_off": self.versus_off["mean"] >= 0,
        }


def run_kinds(
    settings: Settings, config: SimConfig, kinds: list[str], seeds: list[int], out: Path, jobs: int = 1,
    keep_logs: bool = False, done: Callable[[tuple[str, int]], None] | None = None,
) -> dict[str, dict[int, dict[str, Any]]]:
    """Every (kind, seed) world, reports in ``out/KIND/seed-N``; summaries by kind, then by seed."""
    runs = {(kind, seed): (replace(config, pattern=kind, seed=seed), out / kind / f"seed-{seed}")
            for kind in kinds for seed in seeds}
    found = simulation_seeds.run_many(settings, runs, jobs, keep_logs, done)
    return {kind: {seed: found[(kind, seed)] for seed in seeds} for kind in kinds}


def _mean(values: list[Any]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else math.nan


def targets(kind: str, summaries: dict[int, dict[str, Any]]) -> KindTargets:
    seeds = sorted(summaries)
    system = [summaries[s]["system"] for s in seeds]
    off = [summaries[s].get("no_exploration", {}) for s in seeds]
    versus_score = None
    if all("score_explore" in summaries[s] for s in seeds):
        versus_score = simulation_seeds.paired_difference(
            [e.get(AFTER, math.nan) for e in system],
            [summaries[s]["score_explore"].get(AFTER, math.nan) for s in seeds])
    return KindTargets(
        kind=kind, seeds=seeds,
        before=_mean([e.get("mean_ratio_before_new_pattern") for e in system]),
        after=_mean([e.get(AFTER) for e in system]),
        days_back=[e.get("days_to_recover") for e in system],
        versus_off=simulation_seeds.paired_difference([e.get(AFTER, math.nan) for e in system],
                                                      [e.get(AFTER, math.nan) for e in off]),
        versus_score=versus_score,
        off_after=_mean([e.get(AFTER) for e in off]),
        new_pattern_caught=_mean([e.get("new_pattern_caught") for e in system]),
    )


def _difference(diff: dict[str, float] | None) -> str:
    if diff is None:
        return "–"
    return (f"{diff['mean']:+.3f} (95% CI {cell(diff['low'], 3)} to {cell(diff['high'], 3)}; "
            f"ahead on {int(diff['better'])}/{int(diff['pairs'])})")


def rows(found: list[KindTargets]) -> tuple[list[str], list[list[str]]]:
    header = ["kind", "seeds", "before", "after", f"days to ≥{RECOVERY:.2f} (per seed)", "no explore after",
              "system − no explore, after", "system − score explore, after", "new pattern caught", "targets met"]
    body = []
    for k in found:
        met = k.met
        body.append([
            k.kind, str(len(k.seeds)), cell(k.before, 3), cell(k.after, 3),
            ", ".join("never" if d is None else str(d) for d in k.days_back), cell(k.off_after, 3),
            _difference(k.versus_off), _difference(k.versus_score), cell(k.new_pattern_caught, 2),
            f"{sum(met.values())}/{len(met)}"
            + ("" if all(met.values()) else f" (missed: {', '.join(name for name, ok in met.items() if not ok)})"),
        ])
    return header, body


def rich_table(found: list[KindTargets]) -> Table:
    header, body = rows(found)
    table = Table(title=f"kinds of new pattern × worlds: the system's catch / perfect ranking (target {TARGET})")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in body:
        table.add_row(*row)
    return table


def write(found: list[KindTargets], summaries: dict[str, dict[int, dict[str, Any]]], out: Path) -> dict[str, Path]:
    """``out/worlds.json`` and ``worlds.md``, and each kind's per-seed comparison in ``out/KIND/seeds.*``."""
    out.mkdir(parents=True, exist_ok=True)
    for kind, by_seed in summaries.items():
        simulation_seeds.write(simulation_seeds.combine(by_seed), out / kind)
    paths = {"json": out / "worlds.json", "markdown": out / "worlds.md"}
    body = [{**k.__dict__, "met": k.met} for k in found]
    paths["json"].write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    paths["markdown"].write_text(markdown_table(*rows(found)) + "\n")
    return paths
