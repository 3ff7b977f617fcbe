"""Small histories: a fully screened 9 days x 3,000 parcels (about 40 contraband) trains, registers no
collapsed calibration and scores; below the floor training refuses and says what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from models.features import FeatureBuilder
from models.pii import Hasher
from scoring.policy import PolicyConfig
from training.calibration import MIN_PLATT_POSITIVES, CalibrationOff, calibrate, check_rate
from training.dataset import TrainingSet, replay_history
from training.small_data import MIN_POSITIVES, NotEnoughLabels
from training.train import fit
from training.world.generate import WorldConfig, write_world


@pytest.fixture(scope="module")
def nine_days(tmp_path_factory: pytest.TempPathFactory) -> TrainingSet:
    world = write_world(WorldConfig(days=9, parcels_per_day=3000, seed=5), tmp_path_factory.mktemp("nine") / "w")
    policy = PolicyConfig.build(["*"], ["*"])
    data, _ = replay_history(world.manifests, world.outcomes, FeatureBuilder(Hasher("k")), policy)
    return data


def test_a_nine_day_fully_screened_history_trains_and_scores(nine_days: TrainingSet) -> None:
    assert 20 <= nine_days.positives <= 120  # the case that used to fail on 2 validation positives
    model, test = fit(nine_days)
    scores = model.score_rows(test.rows)
    assert np.all(np.isfinite(scores)) and np.all((scores > 0) & (scores < 1))
    assert model.schema.details["small_data"] is True
    observed = float(test.y.mean()) or float(nine_days.y.mean())
    assert observed / 4 < float(scores.mean()) < observed * 4  # level kept: no "mean score 0.0000"
    assert model.schema.fields is not None and model.schema.fields.singles  # the field stats are there


def test_below_the_floor_training_refuses_saying_what_is_missing(nine_days: TrainingSet) -> None:
    keep = [i for i, y in enumerate(nine_days.labels) if not y][:3000]
    keep += [i for i, y in enumerate(nine_days.labels) if y][:MIN_POSITIVES - 5]
    few = TrainingSet(spec=nine_days.spec)
    for i in sorted(keep, key=lambda i: nine_days.times[i]):
        few.add(nine_days.ids[i], nine_days.rows[i], bool(nine_days.labels[i]), 1.0, nine_days.times[i])
    with pytest.raises(NotEnoughLabels, match=r"at least 15 contraband .* more contraband labels"):
        fit(few)


def test_few_positives_calibrate_the_level_only_and_a_collapse_is_refused() -> None:
    rng = np.random.default_rng(0)
    margins = rng.normal(-6, 1, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-margins))).astype(float)
    assert labels.sum() < MIN_PLATT_POSITIVES
    a, b = calibrate(margins, labels, np.ones(4000))
    assert a == 1.0  # the slope is not fitted on a handful of positives
    scores = 1 / (1 + np.exp(-(a * margins + b)))
    assert scores.mean() == pytest.approx(labels.mean(), rel=1e-3)
    check_rate(scores, labels, np.ones(4000), "validation")  # passes
    with pytest.raises(CalibrationOff, match=r"mean score 0\.0000"):
        check_rate(scores * 1e-4, labels, np.ones(4000), "validation")
