"""Where a generated world's bootstrap model ranks the new pattern's parcels before any of them is labelled.

The world is the simulation's own (``generated_days``, the settings of ``scripts/worlds-eval.sh``). The bootstrap
is fitted on the fully screened history as ``parcelguard simulate`` fits it, and every later in-scope parcel is
scored with the field stats frozen at the history's end (no outcome reaches them). For each day from the new
pattern on, each in-scope parcel's rank is its share of that day's in-scope parcels scored below it (0 lowest,
1 highest); the model flags about the top 4.5% and exploration leans towards the top (``scoring.policy``).
Prints one JSON line per world: the new pattern's ranks, and with ``--flow CITY`` the ranks of the other parcels
from that origin city (the hub-mix world's benign merchant flow, which the ring rides).

    .venv/bin/python scripts/pattern_rank.py --pattern route --seed 1 [--flow beihai]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import numpy as np

from models.features import FeatureBuilder
from models.manifest import Manifest
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from training.dataset import FieldOptions, replay_manifests, replay_typed
from training.simulation.simulate import SimConfig, generated_days
from training.train import TrainConfig, fit


def summary(ranks: list[float]) -> dict[str, float | int | None]:
    values = np.array(ranks)
    if not len(values):
        return {"parcels": 0}
    return {"parcels": len(values), "median": round(float(np.median(values)), 3),
            "top_4.5%": round(float((values >= 0.955).mean()), 3), "top_10%": round(float((values >= 0.9).mean()), 3),
            "top_25%": round(float((values >= 0.75).mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pattern", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--new-pattern-day", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--flow", help="origin city of a flow to rank the new pattern against")
    args = parser.parse_args()
    settings = Settings()
    scope = PolicyConfig.build(settings.priority_origins, settings.destinations)
    config = SimConfig(days=args.days, parcels_per_day=args.per_day, history_days=args.history_days, seed=args.seed,
                       new_pattern_day=args.new_pattern_day, pattern=args.pattern)
    history: list[Manifest] = []
    later: list[Manifest] = []
    labels: dict[str, bool] = {}
    facts: dict[str, tuple[int, bool, bool, str]] = {}  # id -> (day, new pattern, in scope, origin city)
    for day, parcels in generated_days(config):
        for parcel in parcels:
            manifest = parcel.manifest
            labels[manifest.parcel_id] = parcel.label
            city = (manifest.origin.city or "").lower()
            facts[manifest.parcel_id] = (day, parcel.novel, scope.in_scope(manifest), city)
            (history if day < args.history_days else later).append(manifest)

    def replayed_history(_: object) -> Iterator[Manifest]:
        return iter(history)

    builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
    bootstrap, _ = replay_typed(replayed_history, labels, builder, scope, fields=FieldOptions(infer=True))
    builder = builder.with_spec(bootstrap.spec)
    frozen = (later[0].accepted_at.timestamp(),)  # no outcome reaches the field stats after the history
    replayed, _ = replay_manifests(history + later, labels, builder, scope, freeze_at=frozen)
    model, _ = fit(bootstrap, name="bootstrap", config=TrainConfig())
    first = args.history_days + args.new_pattern_day
    chosen = [i for i, pid in enumerate(replayed.ids) if facts[pid][0] >= first and facts[pid][2]]
    ids = [replayed.ids[i] for i in chosen]
    scores = model.score_rows([replayed.rows[i] for i in chosen])
    novel: list[float] = []
    flow: list[float] = []
    for day in sorted({facts[pid][0] for pid in ids}):
        index = [j for j, pid in enumerate(ids) if facts[pid][0] == day]
        ranks = scores[index].argsort().argsort() / max(1, len(index) - 1)
        for rank, j in zip(ranks.tolist(), index, strict=True):
            _, is_new, _, city = facts[ids[j]]
            if is_new:
                novel.append(rank)
            elif args.flow and city == args.flow.lower():
                flow.append(rank)
    print(json.dumps({"pattern": args.pattern, "seed": args.seed, "new_pattern": summary(novel),
                      **({"flow": summary(flow)} if args.flow else {})}))


if __name__ == "__main__":
    main()
