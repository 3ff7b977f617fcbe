"""Replaying a recorded world: the new-pattern day comes from its truth file or a flag, never a default;
and the parcels that count as the new pattern are the ones its truth marks (or no history day had)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from models.manifest import Manifest
from parcelguard.cli import app
from tests.factories import manifest
from training.simulation.simulate import Parcel, is_novel
from training.world.generate import WorldConfig, WorldFiles, write_world

# The tests' small world (seed 11, 2,500 a day), with a combination route opening on day 10.
ROUTE = WorldConfig(days=12, parcels_per_day=2500, seed=11, new_pattern_day=10, pattern="route")
ENV = {"PARCELGUARD_HASH_KEY": "test-hash-key"}


@pytest.fixture(scope="module")
def route_world(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    return write_world(ROUTE, tmp_path_factory.mktemp("route"))


def _replay(world: WorldFiles, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "simulate", "--manifests", str(world.manifests), "--truth", str(world.truth), "--history-days", "9",
        "--days", "3", "--retrain-every", "5", "--out", str(out), *extra],
        env={**ENV, "PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = orjson.loads((out / "simulation.json").read_bytes())
    return body


def test_a_replay_takes_the_new_pattern_day_from_the_truth_file(route_world: WorldFiles, tmp_path: Path) -> None:
    body = _replay(route_world, tmp_path)
    # Day 10 of the world is simulated day 1 after 9 history days; the generator's default (15) plays no part.
    assert body["config"]["new_pattern_day"] == 1
    assert [d["new_pattern"] for d in body["days"]] == [False, True, True]
    assert body["days"][0]["arms"]["system"]["new_pattern_caught"] is None
    assert any(d["arms"]["system"]["new_pattern_caught"] is not None for d in body["days"][1:])
    assert "mean_ratio_after_new_pattern" in body["summary"]["system"]


def test_a_flag_overrides_the_truth_file(route_world: WorldFiles, tmp_path: Path) -> None:
    body = _replay(route_world, tmp_path, "--new-pattern-day", "2")
    assert body["config"]["new_pattern_day"] == 2
    assert [d["new_pattern"] for d in body["days"]] == [False, False, True]


def test_a_world_without_a_new_pattern_marks_none(world: WorldFiles, tmp_path: Path) -> None:
    body = _replay(world, tmp_path)
    assert body["config"]["new_pattern_day"] is None
    assert not any(d["new_pattern"] for d in body["days"])


def test_a_pattern_no_history_day_had_is_new_without_a_mark() -> None:
    parcel = Manifest.model_validate(manifest())
    known = frozenset({"yunnan_tea", "diffuse"})

    def made(pattern: str, marked: bool = False) -> Parcel:
        return Parcel(parcel, {}, False, 0.1, pattern, marked)

    assert is_novel(made("liuzhou_documents"), known)
    assert is_novel(made("benign", marked=True), known)
    assert not is_novel(made("yunnan_tea"), known)
    assert not is_novel(made("benign"), known) and not is_novel(made(""), known)


def test_a_recorded_world_refuses_a_generator_pattern(world: WorldFiles, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "simulate", "--manifests", str(world.manifests), "--truth", str(world.truth), "--pattern", "route",
        "--out", str(tmp_path / "out")], env={**ENV, "PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code != 0 and "brings its own new pattern" in result.output
