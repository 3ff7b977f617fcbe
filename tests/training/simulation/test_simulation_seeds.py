"""Several worlds of one simulation: per-seed reports, their spread, and the paired system-vs-off interval."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from scipy import stats
from typer.testing import CliRunner

from parcelguard.cli import app
from training.simulation.seeds import combine, paired_difference


def test_the_paired_interval_is_the_t_interval_of_the_differences() -> None:
    first, second = [0.9, 0.8, 0.85, 0.7], [0.8, 0.82, 0.75, 0.6]
    diffs = [a - b for a, b in zip(first, second, strict=True)]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    found = paired_difference(first, second)
    assert found["mean"] == pytest.approx(mean)
    assert (found["low"], found["high"]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert found["pairs"] == 4 and found["better"] == 3


def test_a_pair_with_a_missing_figure_is_left_out_and_one_pair_has_no_interval() -> None:
    found = paired_difference([0.5, math.nan], [0.4, 0.3])
    assert found["pairs"] == 1 and found["mean"] == pytest.approx(0.1) and math.isnan(found["low"])


def test_combine_keeps_each_seeds_figure_and_its_spread() -> None:
    def summary(system: float, off: float) -> dict[str, object]:
        return {"perfect_expected_share": 0.7, "system": {"mean_ratio": system, "days_to_recover": None},
                "no_exploration": {"mean_ratio": off, "days_to_recover": 4}}

    combined = combine({11: summary(0.8, 0.7), 3: summary(0.9, 0.95)})
    assert combined["seeds"] == [3, 11]
    spread = combined["arms"]["system"]["mean_ratio"]
    assert spread["values"] == [0.9, 0.8] and spread["mean"] == pytest.approx(0.85)
    assert (spread["min"], spread["max"]) == (0.8, 0.9)
    assert math.isnan(combined["arms"]["system"]["days_to_recover"]["mean"])
    lead = combined["system_minus_no_exploration"]["mean_ratio"]
    assert lead["mean"] == pytest.approx(0.025) and lead["better"] == 1


def test_simulate_runs_several_worlds_and_compares_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "simulate", "--days", "2", "--per-day", "1500", "--history-days", "6", "--new-pattern-day", "1",
        "--retrain-every", "5", "--seed", "3", "--seed", "4", "--jobs", "2", "--out", str(out)],
        env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data"), "PARCELGUARD_HASH_KEY": "test-hash-key"})
    assert result.exit_code == 0, result.output
    combined = orjson.loads((out / "seeds.json").read_bytes())
    assert combined["seeds"] == [3, 4]
    per_seed = [orjson.loads((out / f"seed-{s}" / "simulation.json").read_bytes()) for s in (3, 4)]
    assert [body["config"]["seed"] for body in per_seed] == [3, 4]
    assert per_seed[0]["days"][0]["in_scope"] != per_seed[1]["days"][0]["in_scope"]  # two different worlds
    for arm in ("system", "no_exploration", "random"):
        assert combined["arms"][arm]["mean_ratio"]["values"] == [b["summary"][arm]["mean_ratio"] for b in per_seed]
    lead = combined["system_minus_no_exploration"]["mean_ratio"]
    assert lead["pairs"] == 2 and lead["mean"] == pytest.approx(
        sum(b["summary"]["system"]["mean_ratio"] - b["summary"]["no_exploration"]["mean_ratio"] for b in per_seed) / 2)
    assert "system − no explore" in (out / "seeds.md").read_text()


def test_several_seeds_cannot_replay_one_recorded_world(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "simulate", "--manifests", str(tmp_path / "m.jsonl"), "--truth", str(tmp_path / "t.jsonl"),
        "--seed", "1", "--seed", "2"], env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 2 and "one world" in result.output
