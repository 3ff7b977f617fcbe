"""Korea declarations across time splits, seeds and pair caps, through the product's own code path.

For each split the labelled history before the cut is replayed (``training.dataset.replay_history``: fields
typed, pairs chosen, stats as of decision time), fitted (``training.train.fit``, refit on everything as a
bootstrap does) and the period after it scored by the real ``Scorer`` continuing from the replay's entity
history with no outcomes arriving (as ``score-file``). No MLflow, no store: nothing is written but the table.

    .venv/bin/python scripts/korea_harness.py --splits a,b,c --seeds 17 --pairs 24 --out /tmp/kr.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from models.features import FeatureBuilder
from models.manifest import Manifest
from models.pii import Hasher
from parcelguard.config import Settings
from scoring.engine import ModelSource, Scorer
from scoring.policy import PolicyConfig
from training.dataset import FieldOptions, read_jsonl, read_labels, replay_history
from training.offline import PRECISION_SHARES
from training.train import TrainConfig, fit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "customs-kr"  # ../shared beside the repository
SPLITS = {"a": ("2021-01-01", "2021-04-01"), "b": ("2020-09-01", "2020-11-01"), "c": ("2020-11-01", "2021-01-01")}


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row) + b"\n")


def run(split: str, seed: int, pairs: int, folder: Path) -> dict[str, object]:
    cut, end = SPLITS[split]
    manifests = [*read_jsonl(DATA / "train_manifests.jsonl.gz"), *read_jsonl(DATA / "valid_manifests.jsonl.gz")]
    labels = {**read_labels(DATA / "train_outcomes.jsonl.gz"), **read_labels(DATA / "valid_outcomes.jsonl.gz")}
    before = [m for m in manifests if str(m["accepted_at"]) < cut]
    after = [m for m in manifests if cut <= str(m["accepted_at"]) < end]
    _write(folder / "m.jsonl", before)
    _write(folder / "o.jsonl", [{"parcel_id": m["parcel_id"], "result": "contraband" if labels[str(m["parcel_id"])]
                                 else "clear"} for m in before])
    policy = PolicyConfig.build(["*"], ["KR"])
    started = time.monotonic()
    data, history = replay_history(folder / "m.jsonl", folder / "o.jsonl", FeatureBuilder(Hasher("harness")), policy,
                                   fields=FieldOptions(max_pairs=pairs))
    model, _ = fit(data, params={"seed": seed}, config=TrainConfig(refit_all=True, max_pairs=pairs))
    trained_s = time.monotonic() - started
    settings = Settings(priority_origins=["*"], destinations=["KR"], data_dir=folder / "data",
                        database_url=f"sqlite:///{folder / 'unused.db'}")
    scorer = Scorer(settings, None, ModelSource.fixed(model), persist=False, cache_history=True)
    scorer.continue_history(history)
    scores: list[float] = []
    found: list[bool] = []
    batch = [(Manifest.model_validate(m), m) for m in after]
    for start in range(0, len(batch), 2000):
        for decision in scorer.process(batch[start:start + 2000]):
            scores.append(-1.0 if decision.score is None else decision.score)
            found.append(labels[decision.parcel_id])
    y = np.asarray(found, dtype=float)[np.argsort(-np.asarray(scores), kind="stable")]
    result: dict[str, object] = {"split": split, "seed": seed, "pairs": pairs, "rows": len(y),
                                 "rounds": model.schema.details.get("rounds"), "train_s": round(trained_s, 1)}
    for share in PRECISION_SHARES:
        result[f"P@{round(share * 100)}%"] = round(float(y[:int(np.ceil(share * len(y)))].mean()), 4)
    result["R@5%"] = round(float(y[:int(np.ceil(0.05 * len(y)))].sum() / y.sum()), 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", default="a")
    parser.add_argument("--seeds", default="17")
    parser.add_argument("--pairs", default="24")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with args.out.open("a") as sink:
        for split in args.splits.split(","):
            for pairs in (int(p) for p in args.pairs.split(",")):
                for seed in (int(s) for s in args.seeds.split(",")):
                    with tempfile.TemporaryDirectory() as folder:
                        result = run(split, seed, pairs, Path(folder))
                    print(json.dumps(result), flush=True)
                    sink.write(json.dumps(result) + "\n")
                    sink.flush()


if __name__ == "__main__":
    main()
