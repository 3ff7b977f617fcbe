"""The closed-loop simulation on a small world: the real scorer's decisions, outcomes in the decision log,
retraining from it, every baseline at the same capacity, and a recorded world replayed from files."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from parcelguard.cli import app
from scoring.db import decisions, entity_stats, make_engine, outcomes
from scoring.store import Store
from tests.conftest import make_settings
from training import field_types
from training.dataset import from_decision_log
from training.simulation import report as simulation_report
from training.simulation.simulate import ARMS, SimConfig, SimResult, indicator_count, recorded_days, run
from training.world.generate import WorldFiles

SMALL = SimConfig(days=4, parcels_per_day=2500, history_days=8, new_pattern_day=2, retrain_every=2, seed=3)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimResult, Path]:
    folder = tmp_path_factory.mktemp("sim")
    settings = make_settings(folder / "data")
    seen: list[int] = []
    result = run(settings, SMALL, progress=lambda day, _: seen.append(day), workdir=folder / "logs")
    assert seen == [-1, 0, 1, 2, 3]
    return result, folder


def test_every_arm_screens_the_same_days_at_the_same_capacity(simulated: tuple[SimResult, Path]) -> None:
    result, _ = simulated
    assert [d["day"] for d in result.days] == [0, 1, 2, 3]
    for d in result.days:
        arms = d["arms"]
        assert set(arms) == set(ARMS)
        assert arms["random"]["screened"] == d["capacity"] == round(0.05 * d["in_scope"])
        assert arms["rules_only"]["screened"] >= d["capacity"]
        assert arms["all_priority"]["screened"] == d["in_scope"] and arms["all_priority"]["expected_share"] == 1.0
        # The live policy paces itself to the capacity, give or take a few parcels.
        for arm in ("system", "no_exploration"):
            assert abs(arms[arm]["screened"] - d["capacity"]) <= 0.35 * d["capacity"] + 3
        # Nothing at the same capacity beats the perfect ranking by the true risk.
        for arm in ("system", "no_exploration", "rules_only", "random"):
            assert arms[arm]["ratio"] <= 1.0 + 1e-9
        assert d["new_pattern"] == (d["day"] >= SMALL.new_pattern_day)


def test_the_model_beats_random_selection(simulated: tuple[SimResult, Path]) -> None:
    result, _ = simulated
    facts = simulation_report.summary(result)
    assert facts["system"]["mean_ratio"] > 3 * facts["random"]["mean_ratio"]


def test_outcomes_reach_the_decision_log_and_retraining_reads_them(simulated: tuple[SimResult, Path]) -> None:
    result, folder = simulated
    engine = make_engine(f"sqlite:///{folder / 'logs' / 'system.db'}")
    with engine.connect() as conn:
        screened = conn.execute(select(func.count()).select_from(decisions).where(decisions.c.action == "SCREEN"))
        recorded = conn.execute(select(func.count()).select_from(outcomes)).scalar_one()
        explored = conn.execute(select(func.count()).select_from(decisions).where(
            decisions.c.why == "exploration")).scalar_one()
        screened_count = screened.scalar_one()
        # The store credited those outcomes to the parcels' entities (on top of the bootstrap's counts).
        seized, credited = conn.execute(
            select(func.max(entity_stats.c.seized), func.sum(entity_stats.c.screened))).one()
    engine.dispose()
    assert recorded == screened_count == sum(d["arms"]["system"]["screened"] for d in result.days)
    assert seized >= 1 and credited > 0
    assert explored > 0
    retrained = {(r.day, r.arm) for r in result.retrainings}
    assert {(1, "system"), (3, "system"), (1, "no_exploration")} <= retrained
    assert all(r.rows > 0 and r.reason for r in result.retrainings)


def test_the_bootstrap_types_the_worlds_fields_as_train_does(simulated: tuple[SimResult, Path]) -> None:
    """The simulated scorer serves what `parcelguard train` would have trained: fields by name and the as-of-time
    rates of identifiers and field pairs, logged with each decision (not only the fixed domain features)."""
    _, folder = simulated
    store = Store(make_engine(f"sqlite:///{folder / 'logs' / 'system.db'}"))
    spec = field_types.from_rows(from_decision_log(store).rows)
    store.engine.dispose()
    assert spec is not None
    assert "origin.city" in spec.categorical and "sender.account_id" in spec.singles
    assert spec.pairs


def test_the_report_has_a_table_json_and_figure(simulated: tuple[SimResult, Path], tmp_path: Path) -> None:
    result, _ = simulated
    paths = simulation_report.write(result, tmp_path)
    body = orjson.loads(paths["json"].read_bytes())
    assert len(body["days"]) == 4 and body["config"]["capacity_share"] == 0.05
    assert set(body["summary"]) >= {"system", "no_exploration", "rules_only", "random", "all_priority"}
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = paths["markdown"].read_text()
    assert table.startswith("| day |") and "days to ≥0.85" in table and "2*" in table


def test_the_rules_baseline_counts_the_domain_indicators() -> None:
    from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    row: dict[str, float | str | None] = {**dict.fromkeys(NUMERIC_FEATURES, math.nan),
                                          **dict.fromkeys(CATEGORICAL_FEATURES, None)}
    assert indicator_count(row) == 0
    row["description_vague"] = 1.0
    row["account_age_days"] = 3.0
    row["payment"] = "cash"
    assert indicator_count(row) == 3


def test_a_recorded_world_replays_from_files(world: WorldFiles, tmp_path: Path) -> None:
    days = list(recorded_days(world.manifests, world.truth))
    assert [d for d, _ in days] == list(range(12))
    assert sum(len(parcels) for _, parcels in days) == sum(1 for _ in world.manifests.open("rb"))

    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "simulate", "--manifests", str(world.manifests), "--truth", str(world.truth), "--history-days", "9",
        "--days", "3", "--retrain-every", "5", "--new-pattern-day", "-1", "--out", str(out)],
        env={"PARCELGUARD_DATA_DIR": str(tmp_path / "data"), "PARCELGUARD_HASH_KEY": "test-hash-key"})
    assert result.exit_code == 0, result.output
    body = orjson.loads((out / "simulation.json").read_bytes())
    assert body["source"] == "recorded" and [d["day"] for d in body["days"]] == [0, 1, 2]


def test_a_truth_file_missing_a_parcel_is_a_clear_error(world: WorldFiles, tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_bytes(b"".join(world.truth.open("rb").readlines()[1:]))
    with pytest.raises(ValueError, match="has no line in"):
        list(recorded_days(world.manifests, truth))
