"""Manifest fields by name: whatever a hub sends becomes typed, named feature inputs.

A manifest (redacted: personal fields are keyed hashes) is flattened into ``name -> value`` with
nested names joined by dots (``contents.hs_code``) and extra top-level fields kept (``tax_rate``).
Types are inferred from training rows (``infer``), never hard-coded per hub: numeric, categorical
(few values: native LightGBM categoricals), identifier (many values: only as-of-time outcome rates,
see ``models.field_stats``), and hierarchical codes (all-digit strings of one length, whose prefixes
become levels of their own, e.g. HS2/HS4 of an HS6). A spec file can override the inferred types.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from models.features_text import normalise_category

# The row's own id and time, and the contract's version, say nothing about risk.
SELF_FIELDS = frozenset({"parcel_id", "accepted_at", "schema_version"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_CODE = re.compile(r"^\d{4,}$")
MAX_CATEGORICAL = 250  # more distinct training values than this: an identifier
FieldValue = float | str | None


def flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, FieldValue]:
    """Every scalar field of a (redacted) manifest by dotted name; dates and the row's own id left out
    (dates are the domain features' business: account age, hour, weekday)."""
    out: dict[str, FieldValue] = {}
    _flatten_into(out, raw, prefix)
    return out


def _flatten_into(out: dict[str, FieldValue], raw: dict[str, Any], prefix: str) -> None:
    # The scorer flattens every parcel: one output dict filled in place, each string's form cached.
    for key, value in raw.items():
        if not prefix and key in SELF_FIELDS:
            continue
        if isinstance(value, str):
            text = _text(value)
            if text is not None:
                out[prefix + key] = text
        elif isinstance(value, dict):
            _flatten_into(out, value, f"{prefix}{key}.")
        elif isinstance(value, _NUMBERS):
            out[prefix + key] = float(value)


_NUMBERS = (bool, int, float)


@lru_cache(maxsize=65536)
def _text(value: str) -> str | None:
    """A string field's value: None for a date, a code kept as it is, anything else normalised."""
    if _DATE.match(value):
        return None
    stripped = value.strip()
    return (stripped if _CODE.match(stripped) else normalise_category(value)) or None


def level(name: str, length: int) -> str:
    return f"{name}[:{length}]"


def base_of(name: str) -> str:
    """The manifest field a (possibly levelled) name comes from: ``contents.hs_code[:4]`` -> ``contents.hs_code``."""
    return name.split("[:", 1)[0]


_RATIOS = (("contents.declared_value", "weight_g", "value_per_g"),
           ("contents.declared_value", "contents.quantity", "value_per_unit"),
           ("weight_g", "contents.quantity", "weight_per_unit"))


@dataclass
class FieldSpec:
    """Typed manifest fields a model reads, with the as-of-time stats it keeps (see ``models.field_stats``)."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    identifier: list[str] = field(default_factory=list)
    codes: dict[str, list[int]] = field(default_factory=dict)  # code field -> prefix lengths
    singles: list[str] = field(default_factory=list)  # fields with outcome rates and seen counts
    pairs: list[tuple[str, str]] = field(default_factory=list)  # field pairs with outcome rates
    prior: float = 0.05  # IPW-weighted training base rate the rates shrink towards
    m: float = 10.0  # prior weight, in screenings
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def strings(self) -> list[str]:
        return [*self.categorical, *self.identifier]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pairs"] = [list(p) for p in self.pairs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldSpec:
        spec = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        spec.pairs = [(str(a), str(b)) for a, b in data.get("pairs", [])]
        spec.codes = {k: [int(n) for n in v] for k, v in data.get("codes", {}).items()}
        return spec


def expand(fields: dict[str, FieldValue], spec: FieldSpec) -> dict[str, FieldValue]:
    """The spec's fields of a flattened manifest: code levels cut, ratios derived; absent ones left out."""
    out = dict(fields)
    for name, lengths in spec.codes.items():
        value = fields.get(name)
        if isinstance(value, str):
            for n in lengths:
                out[level(name, n)] = value[:n] if len(value) >= n else None
    for top, bottom, name in _RATIOS:
        a, b = fields.get(top), fields.get(bottom)
        if isinstance(a, float) and isinstance(b, float) and b > 0:
            out[name] = a / b
    return out


def ratio_names() -> list[str]:
    return [name for _, _, name in _RATIOS]


def numeric_value(value: FieldValue) -> float:
    return value if isinstance(value, float) else math.nan
