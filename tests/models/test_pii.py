from __future__ import annotations

import orjson

from models.pii import Hasher
from tests.factories import manifest

PERSONAL = ["Zhang Wei", "13800138000", "530102199001011234", "Li Na", "13900139000", "12 Haidian Road"]


def test_redacted_manifest_holds_no_personal_value_in_clear() -> None:
    redacted = orjson.dumps(Hasher("key").redact(manifest())).decode()
    for value in PERSONAL:
        assert value not in redacted
    assert "Kunming" in redacted  # non-personal fields are kept


def test_hash_is_keyed_and_normalised() -> None:
    a, b = Hasher("key-a"), Hasher("key-b")
    assert a("phone", "138-0013-8000") == a("phone", "13800138000")
    assert a("phone", "13800138000") != b("phone", "13800138000")
    assert a("phone", None) is None


def test_every_field_the_contract_declares_is_either_clear_or_personal() -> None:
    from pydantic import BaseModel

    from models.manifest import Manifest
    from models.parties import CLEAR_BY_SECTION, PERSONAL_BY_SECTION

    for name, field in Manifest.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            declared = set(section.model_fields)
            classified = CLEAR_BY_SECTION[name] | set(PERSONAL_BY_SECTION.get(name, ()))
            assert declared == classified, f"{name}: classify {declared ^ classified} in models/parties.py"
        else:
            assert name in CLEAR_BY_SECTION[""], f"classify {name} in models/parties.py"


def test_undeclared_fields_are_hashed_kept_or_dropped_by_kind() -> None:
    from models.pii import RedactionPolicy

    raw = manifest(customer_phone="13712345678", tax_rate=0.13, pieces_extra=3, big=13712345678, flag=False,
                   notes="x" * 65, nested={"deep": {"email": "a@b.cn"}, "李": "drop me"}, sender__email="a@b.cn")
    kept = Hasher("key").redact(raw)
    assert kept["customer_phone"] == Hasher("key")("customer_phone", "13712345678")
    assert kept["tax_rate"] == 0.13 and kept["pieces_extra"] == 3 and kept["flag"] is False
    assert kept["big"].startswith("h:") and "notes" not in kept
    assert kept["nested"] == {"deep": {"email": Hasher("key")("email", "a@b.cn")}}
    assert kept["sender"]["email"] == kept["nested"]["deep"]["email"]  # a kind hashes alike wherever it is
    dropped = Hasher("key", policy=RedactionPolicy(extra_strings="drop")).redact(raw)
    assert "customer_phone" not in dropped and "email" not in dropped["sender"] and dropped["tax_rate"] == 0.13
