"""How much of a perfect ranking's catch a world's new pattern carries, and so how much of it a system must catch
to stay at a given level after it: the arithmetic behind the worlds' after-pattern target (issue 14).

On each day after the new pattern, a perfect ranking screens the top ``--capacity`` of in-scope parcels by their
true risk; the new pattern's share of that expected catch is X. If a system keeps level L on everything else,
its ratio after the pattern is about (1 - X) * L + X * c, where c is the share of the new pattern's expected
catch it gets, so reaching ``--target`` needs c >= (target - (1 - X) * L) / X. The worlds are the simulation's own
(``generated_days``, the same settings as ``scripts/worlds-eval.sh``); L defaults to the system's before-level
in a grid's ``simulation.json`` when ``--grid`` names one, and to ``--level`` otherwise.

    .venv/bin/python scripts/pattern_share.py --pattern route --pattern hub_mix --seed 1 --seed 2 \
        [--grid data/worlds-YYYY-MM-DD] [--level 0.867] [--target 0.85] [--json F]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from training.simulation.simulate import SimConfig, generated_days


def shares(config: SimConfig, capacity: float) -> tuple[list[float], float]:
    """The new pattern's share of a perfect ranking's expected catch on each day from the new pattern on, and
    its parcels a day."""
    settings = Settings()
    scope = PolicyConfig.build(settings.priority_origins, settings.destinations)
    first = config.history_days + (config.new_pattern_day or 0)
    per_day: list[float] = []
    parcels = 0
    for day, world in generated_days(config):
        if day < first:
            continue
        risk = sorted(((p.p, p.novel) for p in world if scope.in_scope(p.manifest)), reverse=True)
        top = risk[: round(capacity * len(risk))]
        best = sum(p for p, _ in top)
        per_day.append(sum(p for p, novel in top if novel) / best if best > 0 else 0.0)
        parcels += sum(1 for p in world if p.novel and scope.in_scope(p.manifest))
    return per_day, parcels / max(1, len(per_day))


def before_level(grid: Path, kind: str, seed: int) -> float:
    """The system's before-level in a worlds-eval grid; a clear error when the grid lacks the world."""
    found = grid / kind / f"seed-{seed}" / "simulation.json"
    if not found.exists():
        raise SystemExit(f"{found} is missing: run scripts/worlds-eval.sh with OUT={grid}, or give --level instead")
    return float(json.loads(found.read_text())["summary"]["system"]["mean_ratio_before_new_pattern"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pattern", action="append", required=True)
    parser.add_argument("--seed", type=int, action="append", required=True)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--new-pattern-day", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--capacity", type=float, default=0.05)
    parser.add_argument("--grid", type=Path, help="a worlds-eval output folder: L is each world's before-level")
    parser.add_argument("--level", type=float, default=0.867, help="L when no grid gives it")
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    print("| kind | seed | new parcels a day | X: share of perfect catch | L | catch of the new pattern needed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in args.pattern:
        for seed in args.seed:
            config = SimConfig(days=args.days, parcels_per_day=args.per_day, history_days=args.history_days,
                               new_pattern_day=args.new_pattern_day, pattern=kind, seed=seed)
            level = before_level(args.grid, kind, seed) if args.grid else args.level
            per_day, parcels = shares(config, args.capacity)
            x = sum(per_day) / len(per_day)
            needed = (args.target - (1 - x) * level) / x if x > 0 else float("nan")
            rows.append({"kind": kind, "seed": seed, "new_parcels_per_day": parcels, "share": x, "level": level,
                         "needed": needed, "per_day": per_day})
            print(f"| {kind} | {seed} | {parcels:.1f} | {x:.3f} | {level:.3f} | {needed:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
