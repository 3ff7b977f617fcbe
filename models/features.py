"""The one feature code path: a validated manifest plus its entity history become a feature row.

Serving, ``score-file``, bootstrap training and the simulator all call ``FeatureBuilder.build``; the
row it returns is logged with each decision and is exactly what retraining reads back, so training
and serving cannot disagree. A row maps feature names to plain values: floats (NaN where unknown)
for numeric features and normalised strings (or None) for categorical ones; ``models.risk_model``
encodes them by name. A row holds the domain features below (entity history, density, vagueness...)
and, when the builder has a ``FieldSpec`` (the model's), every manifest field the spec types
(``f:<field>``, extra fields included) and the as-of-time rates of its identifiers and field pairs
(``models.field_stats``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from models import field_stats, parties
from models.features_text import normalise_category
from models.fields import FieldSpec, FieldValue, expand, flatten
from models.history import HISTORY_FEATURES, OUTCOME_FEATURES, EntityKeys, HistoryState
from models.manifest import Manifest
from models.pii import Hasher

__all__ = ["normalise_category"]

CHINA_TZ = timezone(timedelta(hours=8))
VAGUE_DESCRIPTIONS = frozenset(
    {"gift", "gifts", "parts", "clothes", "daily goods", "goods", "items", "stuff", "sample", "samples",
     "other", "misc", "personal items", "products", "package", "礼品", "日用品", "衣服", "配件"}
)
_WORDS = re.compile(r"\w+")

NUMERIC_FEATURES = [
    "weight_kg",
    "volume_l",
    "density_g_cm3",
    "declared_value",
    "value_per_kg",
    "quantity",
    "pieces",
    "account_age_days",
    "id_verified",
    "hour_local",
    "weekday",
    "description_words",
    "description_vague",
    "hs_code_present",
    "same_surname",
    *HISTORY_FEATURES,
]
CATEGORICAL_FEATURES = [
    "carrier",
    "hub_id",
    "origin_province",
    "origin_city",
    "outlet_id",
    "destination_city",
    "address_type",
    "category",
    "description",
    "hs_chapter",
    "service",
    "payment",
]
FEATURE_NAMES = NUMERIC_FEATURES + CATEGORICAL_FEATURES  # the domain features, in their version-2 order
FIELD = "f:"  # prefix of a manifest field's own value in a row
FeatureRow = dict[str, float | str | None]
# Version 1 and 2 rows were positional lists (2 added OUTCOME_FEATURES after the version-1 history);
# version 3 rows map names to values, and may carry manifest fields and field stats.
FEATURE_VERSION = 3
_V1_NAMES = [name for name in FEATURE_NAMES if name not in OUTCOME_FEATURES]


def upgrade_row(row: list[Any] | dict[str, Any]) -> FeatureRow | None:
    """A logged row as a name -> value mapping: a version-1 list gets the outcome features as missing
    (it was decided before they were computed); a list of any other length is not usable (None)."""
    if isinstance(row, dict):
        return row
    if len(row) == len(FEATURE_NAMES):
        return dict(zip(FEATURE_NAMES, row, strict=True))
    if len(row) == len(_V1_NAMES):
        return {**dict.fromkeys(OUTCOME_FEATURES, math.nan), **dict(zip(_V1_NAMES, row, strict=True))}
    return None


def is_numeric_feature(name: str) -> bool:
    """Whether a row's feature holds a number (else a string): the domain lists, stats and numeric fields."""
    return name not in _CATEGORICAL_SET and not name.startswith(FIELD)


_CATEGORICAL_SET = frozenset(CATEGORICAL_FEATURES)


def _num(value: float | int | bool | None) -> float:
    return math.nan if value is None else float(value)


def _surname(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    return name.split()[0].lower() if " " in name else name[:1]


@dataclass(frozen=True)
class FeatureBuilder:
    """Computes feature rows; holds the hasher so entity keys never exist in clear, and the spec of
    the manifest fields and field stats the model in service reads (None: domain features only)."""

    hasher: Hasher
    spec: FieldSpec | None = None

    def with_spec(self, spec: FieldSpec | None) -> FeatureBuilder:
        return self if spec is self.spec else FeatureBuilder(self.hasher, spec)

    def fields(self, manifest: Manifest) -> dict[str, FieldValue]:
        """The manifest's fields by name, personal ones as keyed hashes, the spec's levels and ratios added."""
        return self._fields(redacted_dump(self.hasher, manifest))

    def _fields(self, redacted: dict[str, Any]) -> dict[str, FieldValue]:
        flat = flatten(redacted)
        return expand(flat, self.spec) if self.spec is not None else flat

    def prepare(self, manifest: Manifest) -> Prepared:
        """Everything per parcel that does not depend on history, computed once: the redacted manifest (the
        form the decision log stores), its fields, its stat keys and its entity keys."""
        redacted = redacted_dump(self.hasher, manifest)
        spec = self.spec
        if spec is None:
            return Prepared(redacted, {}, None, self._keys(manifest, ()))
        fields = self._fields(redacted)
        stat_keys = field_stats.keys_for(spec, fields) if spec.singles or spec.pairs else None
        present = tuple(stat_keys.present()) if stat_keys is not None else ()
        return Prepared(redacted, fields, stat_keys, self._keys(manifest, present))

    def entity_keys(self, manifest: Manifest) -> EntityKeys:
        stats: tuple[str, ...] = ()
        if self.spec is not None and (self.spec.singles or self.spec.pairs):
            stats = tuple(field_stats.keys_for(self.spec, self.fields(manifest)).present())
        return self._keys(manifest, stats)

    def _keys(self, manifest: Manifest, stats: tuple[str, ...]) -> EntityKeys:
        h = self.hasher
        return EntityKeys(
            sender_account=h("account_id", manifest.sender.account_id),
            sender_phone=h("phone", manifest.sender.phone),
            sender_id=h("id_number", manifest.sender.id_number),
            recipient_phone=h("phone", manifest.recipient.phone),
            recipient_address=h("address", parties.value(manifest, parties.RECIPIENT_ADDRESS)),
            stats=stats,
        )

    @staticmethod
    def keys_from_redacted(manifest: dict[str, object]) -> EntityKeys:
        """The entity keys of a stored (redacted) manifest: its personal fields hold exactly these hashes."""

        def part(name: str) -> dict[str, object]:
            value = manifest.get(name)
            return value if isinstance(value, dict) else {}

        def text(section: dict[str, object], name: str) -> str | None:
            value = section.get(name)
            return value if isinstance(value, str) and value else None

        sender, recipient, destination = part("sender"), part("recipient"), part("destination")
        return EntityKeys(
            sender_account=text(sender, "account_id"),
            sender_phone=text(sender, "phone"),
            sender_id=text(sender, "id_number"),
            recipient_phone=text(recipient, "phone"),
            recipient_address=parties.recipient_address(text(recipient, "address"), text(destination, "address")),
        )

    def build(self, manifest: Manifest, history: HistoryState, keys: EntityKeys | None = None,
              prepared: Prepared | None = None) -> FeatureRow:
        """The feature row as of ``manifest.accepted_at``; counts the parcel into ``history``.

        ``keys`` are ``entity_keys(manifest)`` when the caller has them already; ``prepared`` is
        ``prepare(manifest)`` (the scorer's: fields and keys computed once per parcel), which supersedes ``keys``.
        """
        return self.build_with_frozen(manifest, history, keys, prepared)[0]

    def build_with_frozen(
        self, manifest: Manifest, history: HistoryState, keys: EntityKeys | None = None,
        prepared: Prepared | None = None,
    ) -> tuple[FeatureRow, FeatureRow | None]:
        """``build``, plus the row as a model frozen at ``history.frozen`` would see it (its field
        stats' outcome counts as of that snapshot; None without one): training chooses its rounds on
        rows as stale as served ones."""
        at = manifest.accepted_at.astimezone(UTC).timestamp()
        spec = self.spec
        stat_values: dict[str, float] = {}
        frozen_values: dict[str, float] | None = None
        entity = prepared.keys if prepared is not None else keys
        if prepared is None:  # offline callers: no redacted form needed without a spec
            prepared = (self.prepare(manifest) if spec is not None
                        else Prepared({}, {}, None, keys or self.entity_keys(manifest)))
        fields = prepared.fields
        if spec is not None and prepared.stat_keys is not None:
            stat_keys = prepared.stat_keys
            present = stat_keys.present()
            seen = history.seen_counts(present)
            stat_values = field_stats.read(spec, stat_keys, seen, history.found_counts(present))
            if history.frozen is not None:
                frozen_values = field_stats.read(spec, stat_keys, seen, history.frozen)
        history_values = history.observe(entity or prepared.keys, at)
        row = manifest_features(manifest, history_values)
        if spec is not None:
            for name in [*spec.numeric, *spec.strings]:
                row[FIELD + name] = fields.get(name)
        row.update(stat_values)
        return row, (None if frozen_values is None else {**row, **frozen_values})


@dataclass(frozen=True, slots=True)
class Prepared:
    """One parcel's inputs that do not depend on history (``FeatureBuilder.prepare``)."""

    redacted: dict[str, Any]  # the manifest as the decision log stores it: personal fields as keyed hashes
    fields: dict[str, FieldValue]  # by name, for the spec's fields (empty without a spec)
    stat_keys: field_stats.StatKeys | None  # the spec's field-stat keys (None without field stats)
    keys: EntityKeys


def redacted_dump(hasher: Hasher, manifest: Manifest) -> dict[str, Any]:
    """The validated manifest (extra fields included, nulls left out) with personal fields as keyed hashes."""
    return hasher.redact(manifest.model_dump(mode="json", exclude_none=True))


def manifest_features(manifest: Manifest, history_values: list[float]) -> FeatureRow:
    contents = manifest.contents
    weight_kg = _num(manifest.weight_g) / 1000.0
    dims = (manifest.length_cm, manifest.width_cm, manifest.height_cm)
    volume_cm3 = math.prod(float(d) for d in dims if d is not None) if all(d is not None for d in dims) else math.nan
    density = (weight_kg * 1000.0 / volume_cm3) if volume_cm3 and volume_cm3 > 0 else math.nan
    value = _num(contents.declared_value)
    value_per_kg = value / weight_kg if weight_kg and weight_kg > 0 else math.nan
    local = manifest.accepted_at.astimezone(CHINA_TZ)
    opened = manifest.sender.account_opened
    account_age = (local.date() - opened).days if opened else math.nan
    description = normalise_category(contents.description)
    hs_code = (contents.hs_code or "").strip()
    sender_surname = _surname(manifest.sender.name)
    same_surname = (
        math.nan if sender_surname is None or not manifest.recipient.name
        else float(sender_surname == _surname(manifest.recipient.name))
    )
    numeric: list[float] = [
        weight_kg,
        volume_cm3 / 1000.0,
        density,
        value,
        value_per_kg,
        _num(contents.quantity),
        _num(manifest.pieces),
        float(account_age),
        _num(manifest.sender.id_verified),
        float(local.hour),
        float(local.weekday()),
        float(len(_WORDS.findall(description))) if description else 0.0,
        float(description in VAGUE_DESCRIPTIONS) if description else 1.0,
        float(bool(hs_code)),
        same_surname,
        *history_values,
    ]
    categorical: list[str | None] = [
        normalise_category(manifest.carrier),
        normalise_category(manifest.hub_id),
        normalise_category(manifest.origin.province),
        normalise_category(manifest.origin.city),
        normalise_category(manifest.origin.outlet_id),
        normalise_category(manifest.destination.city),
        normalise_category(manifest.destination.address_type),
        normalise_category(contents.category),
        description,
        hs_code[:2] if len(hs_code) >= 2 else None,
        normalise_category(manifest.service),
        normalise_category(manifest.payment),
    ]
    return {**dict(zip(NUMERIC_FEATURES, numeric, strict=True)),
            **dict(zip(CATEGORICAL_FEATURES, categorical, strict=True))}


def now_utc() -> datetime:
    return datetime.now(UTC)
