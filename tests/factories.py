"""Hand-written manifests for tests that need exact control over one field."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "schema_version": 1, "parcel_id": "JT0000000001", "carrier": "JT", "hub_id": "HAK-MEILAN",
    "accepted_at": "2026-11-20T21:14:05+08:00",
    "origin": {"province": "Yunnan", "city": "Kunming", "district": "Guandu", "postcode": "650200",
               "outlet_id": "KM-0412"},
    "destination": {"province": "Hainan", "city": "Haikou", "district": "Meilan",
                    "address": "12 Haidian Road, Meilan", "address_type": "locker"},
    "sender": {"name": "Zhang Wei", "phone": "13800138000", "id_number": "530102199001011234",
               "account_id": "ACC-1", "account_opened": "2026-11-18", "id_verified": True},
    "recipient": {"name": "Li Na", "phone": "13900139000", "address": "12 Haidian Road, Meilan"},
    "contents": {"description": "tea", "category": "gift", "hs_code": "090230", "quantity": 2,
                 "declared_value": 120.0, "currency": "CNY"},
    "weight_g": 1850, "length_cm": 30, "width_cm": 20, "height_cm": 12, "pieces": 1,
    "service": "standard", "payment": "prepaid",
}


def manifest(**changes: Any) -> dict[str, Any]:
    """A valid manifest; ``changes`` use ``section__field`` for nested fields."""
    result = copy.deepcopy(BASE)
    for key, value in changes.items():
        if "__" in key:
            section, field = key.split("__", 1)
            result[section][field] = value
        else:
            result[key] = value
    return result
