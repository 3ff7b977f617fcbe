"""Offline evaluation of a decision file against the generator's ground truth."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from training.dataset import read_jsonl
from training.offline import decisions_vs_truth
from training.world.generate import WorldFiles


def _decisions(world: WorldFiles, path: Path, score: str) -> Path:
    lines = []
    for i, fact in enumerate(read_jsonl(world.truth)):
        value = {"truth": fact["p"], "inverse": 1 - fact["p"], "flat": 0.5}[score]
        lines.append(orjson.dumps({"parcel_id": fact["parcel_id"], "action": "RELEASE", "why": "model",
                                   "score": value, "propensity": 0.0, "n": i}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_ranking_by_the_true_risk_is_the_perfect_ranking(world: WorldFiles, tmp_path: Path) -> None:
    perfect = decisions_vs_truth(_decisions(world, tmp_path / "d.jsonl", "truth"), world.truth, 0.05)
    assert perfect["expected_catch_ratio_to_perfect"] == pytest.approx(1.0)
    assert perfect["recall_ratio_to_perfect"] == pytest.approx(1.0)
    worst = decisions_vs_truth(_decisions(world, tmp_path / "w.jsonl", "inverse"), world.truth, 0.05)
    assert worst["expected_catch_ratio_to_perfect"] < 0.05 and worst["recall_at_capacity"] < 0.05
    assert worst["screened_as_decided"] == 0 and worst["recall_as_decided"] == 0.0


def test_the_evaluate_command_prints_the_metrics(world: WorldFiles, tmp_path: Path) -> None:
    decisions = _decisions(world, tmp_path / "d.jsonl", "truth")
    result = CliRunner().invoke(app, ["evaluate", "--decisions", str(decisions), "--truth", str(world.truth)],
                                env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["expected_catch_ratio_to_perfect"] == pytest.approx(1.0)


def test_a_decision_without_truth_is_reported(world: WorldFiles, tmp_path: Path) -> None:
    decisions = tmp_path / "d.jsonl"
    decisions.write_bytes(orjson.dumps({"parcel_id": "NOPE", "action": "SCREEN", "why": "model", "score": 0.5}))
    with pytest.raises(ValueError, match="no line in"):
        decisions_vs_truth(decisions, world.truth, 0.05)


def test_decisions_against_outcomes_give_precision_at_the_top_shares(tmp_path: Path) -> None:
    import orjson

    from training.offline import decisions_vs_outcomes

    decisions, outcomes = tmp_path / "d.jsonl", tmp_path / "o.jsonl"
    # 100 in-scope parcels scored 0..99; the top 10 by score are contraband except the highest two
    decisions.write_bytes(b"".join(orjson.dumps({"parcel_id": f"P{i}", "score": i / 100, "why": "model"}) + b"\n"
                                   for i in range(100)) + orjson.dumps({"parcel_id": "X", "why": "out_of_scope"}))
    outcomes.write_bytes(b"".join(orjson.dumps({"parcel_id": f"P{i}", "result": "contraband" if 90 <= i < 98
                                                else "clear"}) + b"\n" for i in range(100)))
    found = decisions_vs_outcomes(decisions, outcomes)
    assert found["in_scope"] == 100 and found["contraband"] == 8
    assert found["precision_at_1pct"] == 0.0 and found["precision_at_5pct"] == 0.6
    assert found["precision_at_10pct"] == 0.8 and found["recall_at_5pct"] == 3 / 8
