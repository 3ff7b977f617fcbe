"""Why a parcel got its decision, in words: made at scoring time, and remade on demand from the log.

At scoring time only ``SCREEN`` decisions are explained (LightGBM's ``pred_contrib`` costs about a
hundred scores), in one batched call per batch. Any logged decision can be explained again later
from its stored feature row and model version: ``explain_logged`` runs the same code on the same
inputs, so for a published ``SCREEN`` decision it returns exactly the reasons that were published.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from models import registry
from models.manifest import Reason
from models.risk_model import RiskModel
from scoring.store.rows import StoredDecision, logged_row

# Reasons that do not come from the model; their ``feature`` names none of the model's features.
POLICY_FEATURES = frozenset({"rule", "exploration", "fail_safe"})
FAIL_SAFE_TEXT = "no risk model in service: every priority-origin parcel is screened"
ModelLoader = Callable[[str, str], RiskModel]


def policy_reasons(why: str, propensity: float, rule_text: str | None) -> list[Reason]:
    """The reason the policy itself gives, ahead of any model contributions."""
    if why == "rule" and rule_text:
        return [Reason(feature="rule", contribution=0.0, text=rule_text)]
    if why == "exploration":
        return [Reason(feature="exploration", contribution=0.0,
                       text=f"random exploration check (chosen with probability {propensity:.3f})")]
    if why == "fail_safe":
        return [Reason(feature="fail_safe", contribution=0.0, text=FAIL_SAFE_TEXT)]
    return []


@lru_cache(maxsize=8)
def _registry_model(name: str, version: str) -> RiskModel:
    return registry.load_version(name, version)


def explain_logged(
    row: StoredDecision, top_k: int = 3, load: ModelLoader | None = None
) -> list[Reason]:
    """The explanation of a stored decision, recomputed from its logged inputs.

    Policy reasons (rule hit, exploration, fail-safe) are what the policy recorded; model contributions
    are recomputed from the logged feature row with the model version that made the decision. For a
    ``RELEASE`` this is the explanation it would have been published with, had it been screened.
    """
    kept = [r for r in row.reasons if r.feature in POLICY_FEATURES]
    name, version, features = row.model_name, row.model_version, row.features
    if not name or not version or features is None:
        return kept
    model = (load or _registry_model)(str(name), str(version))
    return kept + model.explain([logged_row(dict(features))], top_k)[0]
