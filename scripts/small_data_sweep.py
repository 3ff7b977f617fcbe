"""A generated world's bootstrap quality, offline, for several recipes: how well a model fitted on the fully
screened history ranks the following days before any loop runs.

Each world is generated and replayed once (fields typed and pairs chosen as `parcelguard train` does, or the
fixed domain features only with ``--no-fields``); every recipe is fitted on its history and scores the next
``--days`` days with the field stats frozen at their start. Prints one JSON line per (world, recipe) with the
mean over days of the expected contraband caught at ``--capacity`` against a perfect ranking's, and a table.
Used for docs/detection-2026-11.md and docs/worlds-2026-11.md.

    .venv/bin/python scripts/small_data_sweep.py --seed 1 --seed 2 [--recipe default] [--history-days 10]
        [--per-day 3000] [--no-fields]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from models.features import FeatureBuilder
from models.manifest import Manifest
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from training import train as train_module
from training.dataset import FieldOptions, replay_manifests, replay_typed
from training.simulation.simulate import SimConfig, generated_days
from training.train import TrainConfig, fit

RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name -> (params, TrainConfig changes)
    "default": ({}, {}),
    "leaves7": ({"num_leaves": 7, "max_depth": 3}, {}),
    "leaves31_md20": ({"num_leaves": 31, "max_depth": -1, "min_data_in_leaf": 20}, {}),
    "mdl100": ({"min_data_in_leaf": 100}, {}),
    "ff08": ({"feature_fraction": 0.8}, {}),
    "lr002": ({"learning_rate": 0.02}, {}),
    "extra": ({"extra_trees": True}, {}),
    "l2_50": ({"lambda_l2": 50.0}, {}),
    "refit_all": ({}, {"refit_all": True}),
    "rounds100": ({}, {"small_min_rounds": 100}),
    "rounds100_all": ({}, {"small_min_rounds": 100, "refit_all": True}),
}


def catch(scores: np.ndarray, ids: list[str], risk: dict[str, float], day_of: dict[str, int],
          days: range, capacity: float) -> list[float]:
    ratios = []
    for day in days:
        index = [j for j, pid in enumerate(ids) if day_of[pid] == day]
        k = round(capacity * len(index))
        p = np.array([risk[ids[j]] for j in index])
        best = np.sort(p)[::-1][:k].sum()
        ratios.append(float(p[np.argsort(-scores[index])[:k]].sum() / best) if best > 0 else 0.0)
    return ratios


def _days(manifests: list[Manifest]) -> Callable[[object], Iterator[Manifest]]:
    return lambda _: iter(manifests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--history-days", type=int, default=10)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--capacity", type=float, default=0.05)
    parser.add_argument("--recipe", action="append", help="names from RECIPES (default: all)")
    parser.add_argument("--no-fields", action="store_true", help="the fixed domain features only")
    args = parser.parse_args()
    recipes = {n: RECIPES[n] for n in (args.recipe or RECIPES)}
    settings = Settings()
    policy = PolicyConfig.build(settings.priority_origins, settings.destinations)
    results: dict[str, list[float]] = {n: [] for n in recipes}
    for seed in args.seed or [1]:
        started = time.monotonic()
        config = SimConfig(days=args.days, parcels_per_day=args.per_day, history_days=args.history_days,
                           seed=seed, new_pattern_day=None)
        builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
        history: list[Manifest] = []
        later: list[Manifest] = []
        labels: dict[str, bool] = {}
        risk: dict[str, float] = {}
        day_of: dict[str, int] = {}
        for day, parcels in generated_days(config):
            for parcel in parcels:
                pid = parcel.manifest.parcel_id
                labels[pid], risk[pid], day_of[pid] = parcel.label, parcel.p, day
                (history if day < args.history_days else later).append(parcel.manifest)
        options = FieldOptions(infer=not args.no_fields)
        bootstrap, _ = replay_typed(_days(history), labels, builder, policy, fields=options)
        builder = builder.with_spec(bootstrap.spec)
        replayed, _ = replay_manifests(history + later, labels, builder, policy,
                                       freeze_at=(later[0].accepted_at.timestamp(),))
        chosen = [i for i, pid in enumerate(replayed.ids) if day_of[pid] >= args.history_days]
        ids = [replayed.ids[i] for i in chosen]
        rows = [replayed.rows[i] for i in chosen]
        prepared = time.monotonic() - started
        for name, (params, changes) in recipes.items():
            t0 = time.monotonic()
            changes = dict(changes)
            train_module.SMALL_DATA_ROUNDS["min_rounds"] = changes.pop("small_min_rounds", 40)
            model, _ = fit(bootstrap, params=params or None, name=name, config=replace(TrainConfig(), **changes))
            ratios = catch(model.score_rows(rows), ids, risk, day_of,
                           range(args.history_days, args.history_days + args.days), args.capacity)
            results[name].append(float(np.mean(ratios)))
            print(json.dumps({"seed": seed, "recipe": name, "fields": not args.no_fields,
                              "mean": round(float(np.mean(ratios)), 3), "days": [round(r, 2) for r in ratios],
                              "positives": bootstrap.positives, "rounds": model.booster.current_iteration(),
                              "fit_s": round(time.monotonic() - t0, 1), "prepare_s": round(prepared, 1)}),
                  flush=True)
    print("| recipe | " + " | ".join(f"seed {s}" for s in args.seed or [1]) + " | mean |")
    for name, values in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | **{np.mean(values):.3f}** |")


if __name__ == "__main__":
    main()
