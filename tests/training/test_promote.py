"""Promotion: a challenger must beat the champion on the same recent, bias-corrected period by a margin;
the comparison is logged; losers run in shadow as ``challenger``; a training job never runs twice at once."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import mlflow
import numpy as np
import pytest

from models import registry
from models.risk_model import RiskModel, sigmoid
from tests.conftest import make_settings
from training import pipeline
from training.dataset import TrainingSet
from training.promote import judge
from training.train import fit


@pytest.fixture(scope="module")
def good(history: TrainingSet) -> tuple[RiskModel, TrainingSet]:
    model, test = fit(history, name="parcelguard-risk")
    model.version = "good"
    return model, test


def _reversed(model: RiskModel, data: TrainingSet) -> RiskModel:
    """The same trees with the ranking turned upside down, its mean still right: clearly worse, yet
    passing the behaviour checks."""
    a, _ = model.schema.calibration
    margins = model.margins(model.encoder.encode(data.rows))
    low, high = -30.0, 30.0
    for _ in range(60):  # the intercept that keeps the mean score at the observed rate
        mid = (low + high) / 2
        low, high = (mid, high) if np.mean(sigmoid(-a * margins + mid)) < data.y.mean() else (low, mid)
    schema = dataclasses.replace(model.schema, calibration=(-a, low))
    return RiskModel(booster=model.booster, schema=schema, name=model.name, version="reversed")


def test_a_better_challenger_is_promoted_and_a_worse_one_is_not(good: tuple[RiskModel, TrainingSet]) -> None:
    model, recent = good
    worse = _reversed(model, recent)
    assert judge(model, worse, recent, 0.05, margin=0.0).promoted
    kept = judge(worse, model, recent, 0.05, margin=0.0)
    assert not kept.promoted and kept.champion is not None and kept.challenger < kept.champion
    assert "vs champion" in kept.reason and kept.details["champion_recall_at_capacity"] == kept.champion


def test_promotion_needs_the_bootstrap_lower_bound_of_the_gain_above_the_margin(
    good: tuple[RiskModel, TrainingSet],
) -> None:
    from tests.streams.support import tiny_model

    model, recent = good
    tie = judge(model, model, recent, 0.05, margin=0.0)
    assert not tie.promoted and tie.details["gain"] == 0.0  # a tie is no evidence: the champion stays
    weak, _ = tiny_model()  # ranks by weight and value only
    better = judge(model, weak, recent, 0.05, margin=0.0)
    assert better.details["gain_lower"] <= better.details["gain"] <= better.details["gain_upper"]
    assert better.promoted == (better.details["gain_lower"] > 0.0) and "lower bound" in better.reason
    assert not judge(model, weak, recent, 0.05, margin=1.0).promoted
    few = recent.subset(0, next(i for i in range(len(recent)) if recent.subset(0, i).positives >= 3))
    assert not judge(model, weak, few, 0.05, margin=0.0).promoted  # too few labels to decide on


def test_the_paired_bootstrap_separates_a_real_gain_from_noise() -> None:
    from training.bootstrap_test import recall_gain

    rng = np.random.default_rng(3)
    y = (rng.random(4000) < 0.03).astype(float)
    w = np.ones(4000)
    noise = rng.random(4000)
    good = y + 0.8 * rng.random(4000)  # ranks most contraband first
    real = recall_gain(good, noise, y, w, 0.05)
    assert real.lower > 0.3 and real.lower <= real.gain <= real.upper
    same = recall_gain(noise, noise, y, w, 0.05)
    assert same.gain == same.lower == same.upper == 0.0
    other = recall_gain(rng.random(4000), noise, y, w, 0.05)
    assert other.lower < 0 < other.upper  # another random ranking is not a gain


def test_the_champion_is_judged_only_on_rows_it_did_not_learn_from(good: tuple[RiskModel, TrainingSet]) -> None:
    model, recent = good
    middle = recent.times[len(recent) // 2]
    later = judge(model, model, recent, 0.05, 0.0, champion_trained_until=middle)
    if recent.between(since=middle).positives >= 5:
        assert later.rows == len(recent.between(since=middle))
    else:
        assert later.rows == len(recent) and "trained on part" in later.reason
    assert judge(model, model, recent, 0.05, 0.0, champion_trained_until=recent.times[0]).rows == len(recent)


def test_failed_behaviour_checks_block_promotion(good: tuple[RiskModel, TrainingSet]) -> None:
    model, recent = good
    a, b = model.schema.calibration
    overconfident = RiskModel(model.booster, dataclasses.replace(model.schema, calibration=(a, b + 4.0)),
                              model.name, "overconfident")
    found = judge(overconfident, None, recent, 0.05, 0.0)
    assert not found.promoted and not found.checks_passed and "calibration off" in found.reason


def test_registry_aliases_follow_the_promotion_decisions(history: TrainingSet, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    name = settings.model_name
    assert pipeline.run_training(settings, history, "bootstrap").comparison.promoted
    strict = settings.model_copy(update={"promotion_margin": 1.0})  # nothing can beat the champion by 100%
    second = pipeline.run_training(strict, history, "retrain")
    assert not second.comparison.promoted
    assert registry.alias_version(name, "champion") == "1" and registry.alias_version(name, "challenger") == "2"
    logged = mlflow.artifacts.load_dict(f"runs:/{second.train.run_id}/promotion.json")
    assert logged["champion_version"] == "1" and logged["promoted"] is False and logged["margin"] == 1.0
    lenient = settings.model_copy(update={"promotion_margin": -1.0})
    assert pipeline.run_training(lenient, history, "retrain").comparison.promoted
    assert registry.alias_version(name, "champion") == "3"
    assert registry.alias_version(name, "challenger") is None  # no stale shadow left behind


def test_two_training_jobs_never_run_at_once(tmp_path: Path) -> None:
    with pipeline.exclusive(tmp_path), pytest.raises(pipeline.TrainingBusy), pipeline.exclusive(tmp_path):
        pass
    with pipeline.exclusive(tmp_path):  # released afterwards
        pass


def test_the_schedule_loop_retrains_until_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    stop = threading.Event()
    calls: list[str] = []

    def fake_retrain(*_: object, **__: object) -> str:
        calls.append("run")
        if len(calls) == 2:
            stop.set()
        if len(calls) == 1:
            raise pipeline.NotEnoughLabels("too few")  # a failed slot is skipped, not fatal
        return "result"

    monkeypatch.setattr(pipeline, "retrain", fake_retrain)
    seen: list[object] = []
    pipeline.run_scheduled(settings, None, 0.0, stop, on_result=seen.append)  # type: ignore[arg-type]
    assert calls == ["run", "run"] and seen == ["result"]
