"""Feature contributions in words a screener understands.

LightGBM's ``pred_contrib`` says how far each feature pushed a parcel's score; this module turns
the strongest pushes into short phrases built from the parcel's own feature values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

Values = Mapping[str, float | str | None]


def _f(values: Values, name: str) -> float:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) and not math.isnan(value) else math.nan


def _what(values: Values) -> str:
    description = values.get("description")
    return f"“{description}”" if isinstance(description, str) else "undescribed contents"


def _value_per_kg(v: Values) -> str:
    return (
        f"declared value {_f(v, 'declared_value'):.0f} CNY for {_f(v, 'weight_kg'):.1f} kg of {_what(v)}"
        f" ({_f(v, 'value_per_kg'):.0f} CNY/kg)"
    )


def _density(v: Values) -> str:
    return (
        f"{_f(v, 'density_g_cm3'):.2f} g/cm³: {_f(v, 'weight_kg'):.1f} kg in {_f(v, 'volume_l'):.1f} L"
        f" declared as {_what(v)}"
    )


def _count(label: str, none: str, missing: str = "not given", suffix: str = " before"
           ) -> Callable[[Values, str], str]:
    def phrase(v: Values, name: str) -> str:
        n = _f(v, name)
        if math.isnan(n):
            return f"{label}: {missing}"
        return none if n == 0 else f"{label}: {n:.0f}{suffix}"

    return phrase


def _found(label: str, none: str) -> Callable[[Values, str], str]:
    """Outcome counts (screenings, seizures): unknown rather than not given when missing."""
    return _count(label, none, missing="not known", suffix="")


def _days(n: float) -> str:
    """``1 day``, ``3 days``, ``0 days``: counted as people say them."""
    whole = round(n)
    return f"{whole} day" if whole == 1 else f"{whole} days"


def _age(v: Values, name: str) -> str:
    days = _f(v, name)
    return "sender account opening date missing" if math.isnan(days) else f"sender account opened {_days(days)} ago"


PHRASES: dict[str, Callable[[Values, str], str]] = {
    "value_per_kg": lambda v, _: _value_per_kg(v),
    "declared_value": lambda v, _: _value_per_kg(v),
    "density_g_cm3": lambda v, _: _density(v),
    "weight_kg": lambda v, _: _density(v),
    "volume_l": lambda v, _: _density(v),
    "account_age_days": _age,
    "sender_account_days_known": lambda v, n: (
        "sender account never seen before" if math.isnan(_f(v, n)) else f"sender account known for {_days(_f(v, n))}"
    ),
    "id_verified": lambda v, n: "sender identity not verified" if _f(v, n) == 0 else "sender identity check",
    "hour_local": lambda v, n: f"accepted at {_f(v, n):02.0f}:00 local time",
    "description_vague": lambda v, _: f"vague description {_what(v)}",
    "description": lambda v, _: f"contents declared as {_what(v)}",
    "description_words": lambda v, _: f"short description {_what(v)}",
    "sender_account_prior": _count("parcels from this sender account", "first parcel from this sender account"),
    "sender_phone_prior": _count("parcels from this sender phone", "sender phone never seen before"),
    "sender_id_prior": _count("parcels under this sender ID", "sender ID never seen before"),
    "recipient_phone_prior": _count("parcels to this recipient phone", "recipient phone never seen before"),
    "recipient_address_prior": _count("parcels to this address", "first parcel to this address"),
    "pair_prior": _count("parcels between this sender and recipient", "sender and recipient never linked before"),
    "recipient_distinct_senders": lambda v, n: f"address has received from {_f(v, n):.0f} different senders",
    "recipient_recent_parcels": lambda v, n: f"about {_f(v, n):.1f} parcels to this address in the last day",
    "same_surname": lambda v, n: "sender and recipient share a surname" if _f(v, n) == 1 else "no family link in names",
    "hs_code_present": lambda v, n: "no HS code declared" if _f(v, n) == 0 else "HS code declared",
    "sender_seized": _found("contraband found on this sender's earlier parcels", "no seizure on this sender before"),
    "recipient_seized": _found("contraband found on earlier parcels to this recipient",
                               "no seizure for this recipient before"),
    "pair_seized": _found("contraband found before between this sender and recipient",
                          "no seizure between this sender and recipient before"),
    "sender_screened": _found("this sender's earlier parcels screened", "this sender never screened before"),
    "recipient_screened": _found("earlier parcels to this recipient screened", "this recipient never screened before"),
}

CATEGORY_LABELS = {
    "carrier": "carrier",
    "hub_id": "hub",
    "origin_province": "from province",
    "origin_city": "from city",
    "outlet_id": "accepted at outlet",
    "destination_city": "to city",
    "address_type": "delivered to a",
    "category": "declared category",
    "hs_chapter": "HS chapter",
    "service": "service",
    "payment": "payment",
    "quantity": "declared quantity",
    "pieces": "pieces",
    "weekday": "weekday",
}


def field_label(name: str) -> str:
    """A manifest field's dotted name in words: ``contents.hs_code[:4]`` -> ``contents hs code (first 4)``."""
    base, _, cut = name.partition("[:")
    words = base.replace(".", " ").replace("_", " ")
    return f"{words} (first {cut.rstrip(']')})" if cut else words


def _stat(feature: str, values: Values, prior: float, m: float) -> str:
    kind, _, name = feature.partition(":")
    what = " × ".join(field_label(part) for part in name.split("*"))
    what = f"this {what} {'pair' if '*' in name else ''}".rstrip()
    screened = _f(values, "screened:" + name)
    rate = _f(values, "rate:" + name)
    if kind == "seen":
        seen = _f(values, feature)
        return f"{what}: first parcel seen" if seen == 0 else f"{what}: {seen:.0f} parcels seen before"
    if math.isnan(screened):
        return f"{what}: not given"
    if screened == 0:
        return f"{what}: never screened before"
    seized = max(0, round(rate * (screened + m) - m * prior)) if not math.isnan(rate) else 0
    return f"{what}: {seized} of {screened:.0f} screened were contraband"


def _field(feature: str, values: Values) -> str:
    label = field_label(feature[2:])
    value = values.get(feature)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label}: not given"
    if isinstance(value, str) and value.startswith("h:"):
        return f"{label} (a personal field, hashed)"
    return f"{label} {value:g}" if isinstance(value, float) else f"{label} {value}"


def phrase(feature: str, values: Values, prior: float = 0.0, m: float = 10.0) -> str:
    """One short sentence about ``feature`` for this parcel; ``prior`` and ``m`` are the field stats' shrinkage
    (``models.fields.FieldSpec``), which turn a rate back into the counts a screener can read."""
    if feature.startswith(("rate:", "screened:", "seen:")):
        return _stat(feature, values, prior, m)
    if feature.startswith("f:"):
        return _field(feature, values)
    if feature in PHRASES:
        return PHRASES[feature](values, feature)
    label = CATEGORY_LABELS.get(feature, feature.replace("_", " "))
    value = values.get(feature)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label}: not given"
    if isinstance(value, float):
        return f"{label} {value:g}"
    return f"{label} {value}"
