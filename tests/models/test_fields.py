"""Manifest fields by name and their as-of-time stats: extra fields become features, personal values stay
hashed, a parcel only sees outcomes recorded before its decision, and a frozen snapshot stays frozen."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from models import field_stats
from models.features import FIELD, FeatureBuilder
from models.fields import FieldSpec, expand, flatten
from models.history import HistoryState
from models.manifest import Manifest
from models.pii import Hasher
from tests.factories import manifest

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
SPEC = FieldSpec(numeric=["tax_rate", "weight_g"], categorical=["import_type", "origin.city"],
                 identifier=["origin.outlet_id", "sender.name", "contents.hs_code[:4]"],
                 codes={"contents.hs_code": [2, 4]}, singles=["origin.outlet_id", "sender.name"],
                 pairs=[("origin.city", "contents.hs_code[:4]")], prior=0.2, m=10.0)


def _parcel(pid: str, hours: float, **changes: object) -> Manifest:
    raw = manifest(parcel_id=pid, accepted_at=(T0 + timedelta(hours=hours)).isoformat(), import_type="11",
                   tax_rate=8.0, **changes)
    return Manifest.model_validate(raw)


def test_every_field_by_name_extra_ones_included_personal_ones_hashed() -> None:
    hasher = Hasher("k")
    flat = flatten(hasher.redact(_parcel("F1", 0).model_dump(mode="json", exclude_none=True)))
    # Extra top-level fields: a number stays in clear; an undeclared string may be personal, so it arrives as a
    # keyed hash, which is still one category per value.
    assert flat["tax_rate"] == 8.0 and flat["import_type"] == hasher.redact({"import_type": "11"})["import_type"]
    assert flat["import_type"] != "11"
    assert flat["contents.hs_code"] == "090230" and flat["origin.city"] == "kunming"
    assert "parcel_id" not in flat and "accepted_at" not in flat and "schema_version" not in flat
    assert "sender.account_opened" not in flat  # dates are the domain features' business
    assert flat["sender.name"] == hasher("name", "Zhang Wei")  # never the name in clear
    assert "Zhang" not in repr(flat) and "13800138000" not in repr(flat)
    levels = expand(flat, SPEC)
    assert levels["contents.hs_code[:2]"] == "09" and levels["contents.hs_code[:4]"] == "0902"
    assert math.isclose(float(levels["value_per_g"] or 0), 120.0 / 1850)


def test_a_row_carries_the_specs_fields_and_stats_and_sees_only_earlier_outcomes() -> None:
    builder = FeatureBuilder(Hasher("k"), SPEC)
    history = HistoryState()
    first = _parcel("S1", 0)
    keys = builder.entity_keys(first)
    row = builder.build(first, history, keys)
    assert row[FIELD + "tax_rate"] == 8.0
    assert row[FIELD + "import_type"] == Hasher("k").redact({"import_type": "11"})["import_type"] != "11"
    assert row["rate:origin.outlet_id"] == 0.2 and row["screened:origin.outlet_id"] == 0.0  # the prior
    assert row["seen:origin.outlet_id"] == 0.0
    assert len(keys.stats) == 3 and all(k.startswith("s:") for k in keys.stats)
    second = builder.build(_parcel("S2", 1), history)
    assert second["seen:origin.outlet_id"] == 1.0 and second["screened:origin.outlet_id"] == 0.0
    history.record_outcome(keys, 1, 1, 0.0)  # S1 screened and seized: known from now on
    third = builder.build(_parcel("S3", 2), history)
    assert third["screened:origin.outlet_id"] == 1.0
    assert math.isclose(float(third["rate:origin.outlet_id"] or 0), (1 + 10 * 0.2) / (1 + 10))
    pair = "origin.city*contents.hs_code[:4]"
    assert third["screened:" + pair] == 1.0
    other_city = builder.build(_parcel("S4", 3, origin__city="Dali"), history)
    assert other_city["screened:" + pair] == 0.0 and other_city["rate:" + pair] == 0.2


def test_a_frozen_snapshot_keeps_outcome_counts_while_seen_counts_go_on() -> None:
    builder = FeatureBuilder(Hasher("k"), SPEC)
    history = HistoryState()
    keys = builder.entity_keys(_parcel("Z1", 0))
    builder.build(_parcel("Z1", 0), history, keys)
    history.freeze()
    history.record_outcome(keys, 1, 1, 0.0)
    fresh, frozen = builder.build_with_frozen(_parcel("Z2", 1), history)
    assert frozen is not None
    assert fresh["screened:origin.outlet_id"] == 1.0 and frozen["screened:origin.outlet_id"] == 0.0
    assert fresh["seen:origin.outlet_id"] == frozen["seen:origin.outlet_id"] == 1.0


def test_an_outcome_credits_the_stat_keys_its_logged_row_read() -> None:
    builder = FeatureBuilder(Hasher("k"), SPEC)
    parcel = _parcel("C1", 0)
    keys = builder.entity_keys(parcel)
    row = builder.build(parcel, HistoryState(), keys)
    assert sorted(field_stats.keys_from_row(row, FIELD)) == sorted(keys.stats)
