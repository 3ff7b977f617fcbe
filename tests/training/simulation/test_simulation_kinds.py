"""Several kinds of new pattern on several worlds: every (kind, seed) run, and each kind against the targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from training.simulation import seeds as simulation_seeds
from training.simulation.kinds import targets
from training.simulation.simulate import SimConfig


def _summary(before: float, after: float, off_after: float, back: int | None,
             score_after: float | None = None) -> dict[str, Any]:
    def arm(after_: float) -> dict[str, Any]:
        return {"mean_ratio": after_, "mean_ratio_before_new_pattern": before, "mean_ratio_after_new_pattern": after_,
                "days_to_recover": back, "new_pattern_caught": 0.5}

    found = {"perfect_expected_share": 0.7, "system": arm(after), "no_exploration": arm(off_after)}
    if score_after is not None:
        found["score_explore"] = arm(score_after)
    return found


def test_a_kind_meets_its_targets_only_when_every_figure_does() -> None:
    good = targets("route", {1: _summary(0.9, 0.88, 0.85, 2, 0.86), 2: _summary(0.88, 0.9, 0.86, 4, 0.85)})
    assert good.before == pytest.approx(0.89) and good.after == pytest.approx(0.89)
    assert good.versus_off["mean"] == pytest.approx(0.035) and good.versus_off["pairs"] == 2
    assert good.versus_score is not None and good.versus_score["mean"] == pytest.approx(0.035)
    assert all(good.met.values())
    # Slow to recover on one world, and behind exploration off on average: those two fail, the rest hold.
    slow = targets("cover", {1: _summary(0.9, 0.86, 0.9, 7), 2: _summary(0.9, 0.86, 0.88, None)})
    assert slow.met == {"before": True, "after": True, "recovery": False, "versus_off": False}
    assert slow.versus_score is None and slow.off_after == pytest.approx(0.89)


def test_simulate_runs_every_kind_on_every_seed_and_writes_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: dict[Any, tuple[SimConfig, Path]] = {}

    def fake_run_many(settings: object, runs: dict[Any, tuple[SimConfig, Path]], jobs: int, keep_logs: bool,
                      done: Any) -> dict[Any, dict[str, Any]]:
        ran.update(runs)
        for key in runs:
            done(key)
        return {key: _summary(0.9, 0.87 + 0.01 * config.seed, 0.86, 3) for key, (config, _) in runs.items()}

    monkeypatch.setattr(simulation_seeds, "run_many", fake_run_many)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "simulate", "--pattern", "route", "--pattern", "cover", "--seed", "1", "--seed", "2", "--days", "24",
        "--new-pattern-day", "8", "--score-explore", "--out", str(out)],
        env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data"), "PARCELGUARD_HASH_KEY": "test-hash-key"})
    assert result.exit_code == 0, result.output
    assert sorted(ran) == [("cover", 1), ("cover", 2), ("route", 1), ("route", 2)]
    for (kind, seed), (config, folder) in ran.items():
        assert (config.pattern, config.seed, config.new_pattern_day) == (kind, seed, 8)
        assert "score_explore" in config.arms and folder == out / kind / f"seed-{seed}"
    table = (out / "worlds.md").read_text()
    assert table.startswith("| kind |") and "| route |" in table and "| cover |" in table
    body = orjson.loads((out / "worlds.json").read_bytes())
    assert [k["kind"] for k in body] == ["route", "cover"] and all(k["met"]["versus_off"] for k in body)
    assert (out / "route" / "seeds.md").exists()


def test_an_unknown_kind_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--pattern", "meteor", "--out", str(tmp_path)],
                               env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data"), "PARCELGUARD_HASH_KEY": "k"})
    assert result.exit_code != 0 and "unknown --pattern meteor" in result.output
