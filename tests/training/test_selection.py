"""Model selection: the default recipe stands unless a searched trial beats it clearly on validation."""

from __future__ import annotations

from typing import Any

from training import selection


def test_a_clearly_better_trial_wins_and_a_marginal_one_does_not() -> None:
    def fit(params: dict[str, Any], columns: list[int]) -> tuple[int, float]:
        # validation AP rises with leaves; dropping the pair columns costs a little
        return 100, 0.5 + params["num_leaves"] / 1000 - (0.02 if len(columns) < 3 else 0.0)

    base = {"num_leaves": 31, "learning_rate": 0.03}
    chosen = selection.select(base, [0, 1, 2], [0, 1], fit, budget_s=2.0)
    assert len(chosen.trials) > 1 and chosen.trials[0]["variant"] == "all features"
    assert chosen.params["num_leaves"] > 31 + 1000 * selection.MIN_IMPROVEMENT
    assert chosen.score == fit(chosen.params, chosen.columns)[1]
    flat = selection.select(base, [0, 1, 2], [0, 1], lambda p, c: (100, 0.5 + (p["num_leaves"] != 31) * 0.001),
                            budget_s=1.0)
    assert flat.params == base and flat.variant == "all features"  # within noise: the default stands
    assert selection.select(base, [0, 1, 2], [0, 1], fit, budget_s=0).trials == [
        {"trial": 0, "variant": "all features", "ap": 0.531, "rounds": 100}]
