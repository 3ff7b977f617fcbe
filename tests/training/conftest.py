"""The labelled history the training tests learn from: the session's generated world, replayed once per module."""

from __future__ import annotations

import pytest

from models.features import FeatureBuilder
from models.pii import Hasher
from scoring.policy import PolicyConfig
from training.dataset import TrainingSet, replay_history
from training.world.generate import WorldFiles


@pytest.fixture(scope="module")
def history(world: WorldFiles) -> TrainingSet:
    policy = PolicyConfig.build(["Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou"], ["Hainan"])
    data, _ = replay_history(world.manifests, world.outcomes, FeatureBuilder(Hasher("test-hash-key")), policy)
    return data
