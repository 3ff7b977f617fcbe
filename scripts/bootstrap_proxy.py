"""A generated world's first week offline: how well the bootstrap model ranks before any loop runs.

Bootstraps on the fully screened history days as `parcelguard simulate` does (fields typed and pairs chosen
as `parcelguard train` does, or the fixed domain features only with ``--no-fields``), then scores the next
days with the field stats frozen at their start, and prints the mean over days of the expected contraband
caught at 5% capacity against a perfect ranking's (JSON, one line). Used for docs/detection-2026-11.md.

    .venv/bin/python scripts/bootstrap_proxy.py --seed 1 [--history-days 10] [--days 8] [--per-day 3000]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from models.features import FeatureBuilder
from models.manifest import Manifest
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from training.dataset import FieldOptions, replay_manifests, replay_typed
from training.simulation.simulate import SimConfig, generated_days
from training.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--history-days", type=int, default=10)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--capacity", type=float, default=0.05)
    parser.add_argument("--no-fields", action="store_true", help="the fixed domain features only")
    args = parser.parse_args()

    settings = Settings()
    config = SimConfig(days=args.days, parcels_per_day=args.per_day, history_days=args.history_days,
                       seed=args.seed, new_pattern_day=None)
    policy = PolicyConfig.build(settings.priority_origins, settings.destinations)
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

    bootstrap, _ = replay_typed(lambda _: iter(history), labels, builder, policy,
                                fields=FieldOptions(infer=not args.no_fields))
    builder = builder.with_spec(bootstrap.spec)
    model, _ = fit(bootstrap, name="bootstrap-proxy")

    # Every label is in the replay, but the rows of the later days see the stats as of their first day.
    replayed, _ = replay_manifests(history + later, labels, builder, policy,
                                   freeze_at=(later[0].accepted_at.timestamp(),))
    chosen = [i for i, pid in enumerate(replayed.ids) if day_of[pid] >= args.history_days]
    ids = [replayed.ids[i] for i in chosen]
    scores = model.score_rows([replayed.rows[i] for i in chosen])
    ratios = []
    for day in range(args.history_days, args.history_days + args.days):
        index = [j for j, pid in enumerate(ids) if day_of[pid] == day]
        k = round(args.capacity * len(index))
        p = np.array([risk[ids[j]] for j in index])
        best = np.sort(p)[::-1][:k].sum()
        ratios.append(float(p[np.argsort(-scores[index])[:k]].sum() / best) if best > 0 else 0.0)
    print(json.dumps({"seed": args.seed, "fields": not args.no_fields, "mean": round(float(np.mean(ratios)), 3),
                      "days": [round(r, 2) for r in ratios]}))


if __name__ == "__main__":
    main()
