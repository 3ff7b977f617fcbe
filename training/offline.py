"""Offline evaluation jobs: a decision file against ground truth, or registered models on the recent log.

``decisions_vs_truth`` answers "how well does the service rank a held-out period" with the generator's
true risk as the perfect ranking (decisions from ``parcelguard score-file``); ``recent_log`` judges the
champion and the challenger on the latest labelled period of the decision log, IPW-weighted, with the
miss rate among released parcels estimated from the exploration labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from models import registry
from parcelguard.config import Settings
from scoring.store import Store
from training import evaluate
from training.dataset import from_decision_log, read_jsonl, read_labels
from training.train import metrics_for

T = TypeVar("T")


def _in_scope(decisions: Path, facts: Mapping[str, T], source: Path) -> list[tuple[dict[str, Any], T]]:
    """Each in-scope decision of a score-file output with its fact; every one must have a fact."""
    found: list[tuple[dict[str, Any], T]] = []
    missing = 0
    for d in read_jsonl(decisions):
        if "error" in d or d.get("why") == "out_of_scope":
            continue
        fact = facts.get(str(d["parcel_id"]))
        if fact is None:
            missing += 1
        else:
            found.append((d, fact))
    if missing:
        raise ValueError(f"{missing} in-scope decision(s) have no line in {source}")
    return found


def _score(decision: dict[str, Any]) -> float:
    return -1.0 if decision.get("score") is None else float(decision["score"])


def decisions_vs_truth(decisions: Path, truth: Path, share: float) -> dict[str, Any]:
    """Recall and precision at ``share`` of in-scope parcels, ranked by score and as decided, beside the
    perfect ranking by the true probability ``p`` (or by the labels where the truth has no ``p``)."""
    facts = {str(t["parcel_id"]): t for t in read_jsonl(truth)}
    scores, labels, risk, screened = [], [], [], []
    for d, fact in _in_scope(decisions, facts, truth):
        scores.append(_score(d))
        labels.append(bool(fact["label"]))
        risk.append(float(fact.get("p", float(fact["label"]))))
        screened.append(d.get("action") == "SCREEN")
    s, y, p, chosen = np.array(scores), np.array(labels, dtype=float), np.array(risk), np.array(screened)
    ranked = evaluate.at_capacity(s, y, share, perfect_scores=p)
    k = max(1, round(share * len(s)))
    top_p = float(np.sort(p)[::-1][:k].sum())
    by_score = float(p[np.argsort(-s, kind="stable")[:k]].sum())
    return {
        "in_scope": len(s), "contraband": int(y.sum()), "capacity": k, "screened_as_decided": int(chosen.sum()),
        "recall_at_capacity": ranked.recall, "perfect_recall_at_capacity": ranked.perfect_recall,
        "recall_ratio_to_perfect": ranked.recall_ratio,
        "precision_at_capacity": ranked.precision, "precision_ratio_to_perfect": ranked.precision_ratio,
        "expected_catch_ratio_to_perfect": by_score / top_p if top_p else float("nan"),
        "recall_as_decided": float(y[chosen].sum() / y.sum()) if y.sum() else float("nan"),
        "expected_catch_ratio_as_decided": float(p[chosen].sum()) / top_p if top_p else float("nan"),
        "pr_auc": evaluate.average_precision(s, y),
        "pr_auc_perfect": evaluate.average_precision(p, y),
    }


PRECISION_SHARES = (0.01, 0.02, 0.05, 0.10)


def decisions_vs_outcomes(decisions: Path, outcomes: Path) -> dict[str, Any]:
    """Precision among the top 1, 2, 5 and 10% of in-scope parcels by score and recall at 5%, against an
    outcomes file (a fully screened period: every scored parcel needs an outcome)."""
    pairs = _in_scope(decisions, read_labels(outcomes), outcomes)
    scores = [_score(d) for d, _ in pairs]
    found = [label for _, label in pairs]
    if not scores:
        raise ValueError(f"no in-scope decisions in {decisions}")
    y = np.array(found, dtype=float)[np.argsort(-np.array(scores), kind="stable")]
    top = {share: int(np.ceil(share * len(y))) for share in PRECISION_SHARES}
    result: dict[str, Any] = {"in_scope": len(y), "contraband": int(y.sum())}
    result.update({f"precision_at_{round(share * 100)}pct": float(y[:k].mean()) for share, k in top.items()})
    result["recall_at_5pct"] = float(y[:top[0.05]].sum() / y.sum()) if y.sum() else float("nan")
    return result


def recent_log(settings: Settings, store: Store, days: float = 7.0) -> dict[str, Any]:
    """The champion and challenger on the last ``days`` of labelled decisions (event time, IPW-weighted)."""
    span = store.reads.time_range()
    if span is None:
        raise ValueError("the decision log is empty")
    since = span[1] - timedelta(days=days)
    data = from_decision_log(store, since=since)
    if not len(data):
        raise ValueError(f"no labelled decisions since {since.isoformat()}")
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    found: dict[str, Any] = {"since": since.isoformat(), "rows": len(data), "positives": data.positives,
                             "exploration_labels": data.whys.count("exploration")}
    for alias in ("champion", "challenger"):
        model = registry.load_alias(settings.model_name, alias)
        if model is not None:
            found[alias] = {"version": model.version, **metrics_for(model, data, settings.capacity_share)}
    return found
