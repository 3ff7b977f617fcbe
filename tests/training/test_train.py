"""Training on a labelled history: held-out period after everything learnt from, calibrated scores, and
an MLflow run carrying parameters, data window, metrics, schema, plots, a model card and a signature."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from models import registry
from models.features import CATEGORICAL_FEATURES, FEATURE_NAMES
from models.risk_model import RiskModel, booster_names
from parcelguard.config import Settings
from tests.conftest import make_settings
from training import calibration, evaluate, pipeline
from training.dataset import TrainingSet
from training.train import UNUSED_FEATURES, TrainConfig, fit, split


@pytest.fixture(scope="module")
def fitted(history: TrainingSet) -> tuple[RiskModel, TrainingSet]:
    return fit(history, name="parcelguard-risk")


def test_the_held_out_period_comes_after_everything_the_model_learnt_from(history: TrainingSet) -> None:
    train, valid, test = split(history, config=TrainConfig())
    assert len(train) and len(valid) and len(test)
    assert max(train.times) <= min(valid.times) and max(valid.times) <= min(test.times)
    assert len(test) / len(history) == pytest.approx(0.15, abs=0.01)


def test_scores_are_calibrated_probabilities_on_the_held_out_period(fitted: tuple[RiskModel, TrainingSet]) -> None:
    model, test = fitted
    scores = model.score_rows(test.rows)
    assert np.all((scores > 0) & (scores < 1))
    observed = float(test.y.mean())
    # The held-out period holds about a dozen contraband parcels, so its observed rate is itself uncertain
    # by about 2x either way: the bound is the one registration enforces (training.calibration).
    factor = calibration.MAX_RATE_FACTOR
    assert observed / factor < float(scores.mean()) < observed * factor
    # The riskiest tenth holds far more contraband than the rest, at about the rate it predicts.
    top = scores >= np.quantile(scores, 0.9)
    assert test.y[top].mean() > 4 * test.y[~top].mean()
    assert evaluate.calibration_error(evaluate.calibration_table(scores, test.y)) < 0.01


def test_the_model_ranks_far_better_than_chance(fitted: tuple[RiskModel, TrainingSet]) -> None:
    model, test = fitted
    metrics = evaluate.summary(model.score_rows(test.rows), test.y, 0.05)
    assert metrics["recall_at_capacity"] > 0.25  # random selection at 5% would catch about 5%


def test_the_trees_leave_outlets_and_descriptions_out_yet_read_and_explain_full_rows(
    fitted: tuple[RiskModel, TrainingSet],
) -> None:
    model, test = fitted
    assert set(UNUSED_FEATURES) == {"outlet_id", "description"}
    assert not set(UNUSED_FEATURES) & (set(model.schema.names) | set(model.schema.vocabularies))
    assert model.booster.feature_name() == booster_names(model.schema.names)
    # Outlets and descriptions reach the trees only as as-of-time outcome rates, never as raw values.
    raw = {"f:origin.outlet_id", "f:contents.description"}
    assert not raw & set(model.schema.names)
    assert {"rate:origin.outlet_id", "rate:contents.description"} <= set(model.schema.names)
    assert set(FEATURE_NAMES) - set(UNUSED_FEATURES) - set(model.schema.names) <= set(CATEGORICAL_FEATURES)
    rows = test.rows[:200]
    # Rows keep today's full layout: the unused columns make no difference to a score ...
    blanked = [{k: None if k in UNUSED_FEATURES else v for k, v in row.items()} for row in rows]
    assert np.array_equal(model.score_rows(rows), model.score_rows(blanked))
    # ... and explanations name only what the model read, phrased from the full row.
    reasons = [r for found in model.explain(rows, top_k=3) for r in found]
    assert reasons and all(r.feature in model.schema.names and r.text for r in reasons)


def test_a_training_run_logs_everything_and_registers_a_signed_model(history: TrainingSet, tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path / "data")
    job = pipeline.run_training(settings, history, "bootstrap")
    assert job.comparison.promoted and job.comparison.reason == "no champion yet"
    client = MlflowClient()
    run = client.get_run(str(job.train.run_id))
    params, metrics = run.data.params, run.data.metrics
    for key in ("window_start", "window_end", "test_start", "rows", "positives", "test_rows", "trained_until",
                "capacity_share", "num_leaves", "calibration"):
        assert key in params
    assert int(params["rows"]) == len(history)
    for key in ("test_recall_at_capacity", "test_precision_at_capacity", "test_pr_auc",
                "test_recall_ratio_to_perfect", "test_precision_ratio_to_perfect", "test_caught_per_1000_screened",
                "test_calibration_error"):
        assert key in metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model_card.md", "feature_list.json", "feature_schema.json", "evaluation.json",
            "promotion.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/capacity_curve.png", "plots/calibration.png", "plots/feature_importance.png"}
    card = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/model_card.md")
    assert "held-out" in card and str(len(history)) in card

    info = mlflow.models.get_model_info(f"models:/{settings.model_name}@champion")
    assert info.signature is not None and info.signature.inputs.input_names() == job.train.model.schema.names
    loaded = registry.load_alias(settings.model_name, "champion")
    assert loaded is not None and loaded.version == job.train.model.version
    sample = history.rows[:50]
    assert np.allclose(loaded.score_rows(sample), job.train.model.score_rows(sample))
