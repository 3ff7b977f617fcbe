"""Typing fields from training rows and choosing field pairs: each rule on rows built to need it."""

from __future__ import annotations

import numpy as np

from models.fields import FieldSpec, FieldValue
from training import field_types


def _rows(n: int, seed: int = 0) -> tuple[list[dict[str, FieldValue]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, FieldValue]] = []
    labels = []
    for _ in range(n):
        city, kind = rng.choice(["a", "b", "c"]), rng.choice(["x", "y", "z"])
        # risky only as a combination: neither city "a" nor kind "x" is risky alone
        risky = city == "a" and kind == "x"
        labels.append(int(rng.random() < (0.6 if risky else 0.02)))
        rows.append({
            "weight_g": float(rng.integers(100, 5000)), "hub_id": "H1",
            "origin.city": str(city), "contents.category": str(kind), "z_city_copy": f"city-{city}",
            "contents.hs_code": f"{rng.integers(10, 99)}{rng.integers(10, 99)}{rng.integers(10, 99)}",
            "origin.outlet_id": f"o{rng.integers(0, 400)}",
            "contents.description": str(rng.choice(["tea", "gift", "toy"])),
        })
    return rows, np.asarray(labels, dtype=float), np.arange(n) * 3600.0


def test_types_codes_identifiers_copies_and_constants_are_inferred_from_the_rows() -> None:
    rows, y, t = _rows(3000)
    spec = field_types.infer(rows, t, y, np.ones(len(y)), valid_from=float(t[2400]), max_pairs=4)
    assert spec.numeric[:1] == ["weight_g"] and spec.dropped["hub_id"] == "constant"
    assert spec.codes == {"contents.hs_code": [2, 4]}
    assert "contents.hs_code[:2]" in spec.categorical and "contents.hs_code[:4]" in spec.identifier
    assert "origin.outlet_id" in spec.identifier  # more than 250 values
    assert "contents.description" in spec.identifier  # the contract's free text, however few values
    assert spec.dropped.get("z_city_copy") == "copy of origin.city"
    assert spec.pairs[0] == ("contents.category", "origin.city")  # the jointly risky combination ranks first
    assert 0.05 < spec.prior < 0.2


def test_a_spec_file_overrides_a_type_and_pairs_can_be_switched_off() -> None:
    rows, y, t = _rows(1000)
    spec = field_types.infer(rows, t, y, np.ones(len(y)), valid_from=float(t[800]), max_pairs=0,
                             overrides={"origin.city": "identifier", "weight_g": "drop"})
    assert "origin.city" in spec.identifier and "origin.city" in spec.singles
    assert "weight_g" not in spec.numeric and spec.pairs == []


def test_a_decision_logs_rows_give_back_the_spec_they_were_built_with() -> None:
    from models.features import FeatureBuilder
    from models.history import HistoryState
    from models.pii import Hasher
    from tests.models.test_fields import SPEC, _parcel

    builder, history = FeatureBuilder(Hasher("k"), SPEC), HistoryState()
    rows = [builder.build(_parcel(f"L{i}", i), history) for i in range(5)]
    spec = field_types.from_rows([dict(row) for row in rows])
    assert spec is not None and spec.prior == SPEC.prior
    assert spec.singles == SPEC.singles and spec.pairs == SPEC.pairs
    assert set(SPEC.identifier) >= set(spec.singles) and not set(spec.singles) & set(spec.categorical)
    assert set(spec.numeric) == set(SPEC.numeric)
    assert field_types.from_rows([{"weight_kg": 1.0}]) is None  # domain-only rows: no spec


def test_a_many_valued_categorical_is_an_identifier_when_the_history_has_few_positives() -> None:
    """200 postcodes are native categoricals for a history with thousands of contraband labels, but an
    identifier (its as-of-time rate only) for one with a few dozen, where the trees would single out the
    postcodes of the rings they saw."""
    rng = np.random.default_rng(5)

    def history(risk: float) -> FieldSpec:
        rows: list[dict[str, FieldValue]] = [
            {"origin.postcode": f"p{rng.integers(0, 200)}", "payment": str(rng.choice(["cod", "pre"]))}
            for _ in range(6000)]
        y = (rng.random(6000) < risk).astype(float)
        t = np.arange(6000) * 600.0
        return field_types.infer(rows, t, y, np.ones(6000), valid_from=float(t[4800]), max_pairs=0)

    assert "origin.postcode" in history(0.3).categorical  # about 1,400 positives before validation
    few = history(0.008)  # about 40
    assert "origin.postcode" in few.identifier and "origin.postcode" in few.singles
    assert "payment" in few.categorical
    assert field_types.categorical_limit(40) == 40 and field_types.categorical_limit(10) == 32
