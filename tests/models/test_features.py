from __future__ import annotations

import math
from typing import Any

from models.features import FEATURE_NAMES, FeatureBuilder, normalise_category
from models.history import HistoryState
from models.manifest import Manifest
from models.pii import Hasher
from tests.factories import manifest


def _builder() -> FeatureBuilder:
    return FeatureBuilder(Hasher("k"))


def test_row_has_one_value_per_feature_and_derived_values() -> None:
    row = _builder().build(Manifest.model_validate(manifest()), HistoryState())
    values: dict[str, Any] = dict(row)
    assert list(row) == FEATURE_NAMES  # no field spec: the domain features only
    assert values["weight_kg"] == 1.85
    assert math.isclose(values["density_g_cm3"], 1850 / (30 * 20 * 12))
    assert math.isclose(values["value_per_kg"], 120 / 1.85)
    assert values["account_age_days"] == 2
    assert values["hour_local"] == 21
    assert values["description"] == "tea"


def test_history_counts_only_the_past_never_the_parcel_itself() -> None:
    builder, history = _builder(), HistoryState()
    first: dict[str, Any] = builder.build(Manifest.model_validate(manifest()), history)
    second: dict[str, Any] = builder.build(
        Manifest.model_validate(manifest(parcel_id="JT2", accepted_at="2026-11-20T22:14:05+08:00")), history)
    other_sender: dict[str, Any] = builder.build(Manifest.model_validate(manifest(
        parcel_id="JT3", sender__account_id="ACC-2", sender__phone="13700000000", sender__id_number="X",
        accepted_at="2026-11-20T23:14:05+08:00")), history)
    assert first["sender_account_prior"] == 0 and first["recipient_address_prior"] == 0
    assert second["sender_account_prior"] == 1 and second["pair_prior"] == 1
    assert second["recipient_distinct_senders"] == 1
    assert other_sender["recipient_distinct_senders"] == 1  # read before the new sender is counted in
    assert other_sender["sender_account_prior"] == 0
    assert 1.8 < other_sender["recipient_recent_parcels"] < 1.95  # two parcels, 1 and 2 hours ago, decayed
    address = builder.entity_keys(Manifest.model_validate(manifest())).recipient_address
    stat = history.get(address)
    assert stat is not None and stat.partners == 2 and stat.count == 3


def test_missing_optional_fields_become_nan_not_errors() -> None:
    raw = manifest()
    del raw["weight_g"]
    raw["sender"]["account_opened"] = None
    raw["contents"] = {}
    values: dict[str, Any] = _builder().build(Manifest.model_validate(raw), HistoryState())
    assert math.isnan(values["weight_kg"]) and math.isnan(values["account_age_days"])
    assert values["description"] is None and values["description_vague"] == 1.0


def test_free_string_categories_are_normalised() -> None:
    assert normalise_category("  Parcel_Locker ") == normalise_category("parcel-locker") == "parcel locker"
    assert normalise_category("") is None
