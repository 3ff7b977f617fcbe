"""The one feature code path: a validated manifest plus its entity history become a feature row.

Serving, ``score-file``, bootstrap training and the simulator all call ``FeatureBuilder.build``; the
row it returns is logged with each decision and is exactly what retraining reads back, so training
and serving cannot disagree. Rows hold plain values: floats (NaN where unknown) for numeric
features and normalised strings (or None) for categorical ones; ``models.risk_model`` encodes them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from models import parties
from models.history import HISTORY_FEATURES, HISTORY_FEATURES_V1, OUTCOME_FEATURES, EntityKeys, HistoryState
from models.manifest import Manifest
from models.pii import Hasher

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
FEATURE_NAMES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
FeatureRow = list[float | str | None]
# Version 2 added the outcome history (OUTCOME_FEATURES) after the version-1 history features.
FEATURE_VERSION = 2
_V1_LENGTH = len(FEATURE_NAMES) - len(OUTCOME_FEATURES)
_OUTCOMES_AT = NUMERIC_FEATURES.index(HISTORY_FEATURES_V1[-1]) + 1


def upgrade_row(row: FeatureRow) -> FeatureRow | None:
    """A logged row in today's layout: a version-1 row gets the outcome features as missing (it was
    decided before they were computed); a row of any other length is not usable (None)."""
    if len(row) == len(FEATURE_NAMES):
        return row
    if len(row) == _V1_LENGTH:
        return [*row[:_OUTCOMES_AT], *([math.nan] * len(OUTCOME_FEATURES)), *row[_OUTCOMES_AT:]]
    return None


@lru_cache(maxsize=65536)
def normalise_category(value: object) -> str | None:
    """Free strings from hubs: case, spacing and punctuation do not make a new category."""
    if value is None:
        return None
    text = " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").split())
    return text[:48] or None


def _num(value: float | int | bool | None) -> float:
    return math.nan if value is None else float(value)


def _surname(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    return name.split()[0].lower() if " " in name else name[:1]


@dataclass(frozen=True)
class FeatureBuilder:
    """Computes feature rows; holds the hasher so entity keys never exist in clear."""

    hasher: Hasher

    def entity_keys(self, manifest: Manifest) -> EntityKeys:
        h = self.hasher
        return EntityKeys(
            sender_account=h("account_id", manifest.sender.account_id),
            sender_phone=h("phone", manifest.sender.phone),
            sender_id=h("id_number", manifest.sender.id_number),
            recipient_phone=h("phone", manifest.recipient.phone),
            recipient_address=h("address", parties.value(manifest, parties.RECIPIENT_ADDRESS)),
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

    def build(self, manifest: Manifest, history: HistoryState, keys: EntityKeys | None = None) -> FeatureRow:
        """The feature row as of ``manifest.accepted_at``; counts the parcel into ``history``.

        ``keys`` are ``entity_keys(manifest)`` when the caller has them already (the scorer does).
        """
        at = manifest.accepted_at.astimezone(UTC).timestamp()
        history_values = history.observe(keys or self.entity_keys(manifest), at)
        return manifest_features(manifest, history_values)


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
    return [*numeric, *categorical]


def now_utc() -> datetime:
    return datetime.now(UTC)
