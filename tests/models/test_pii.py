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
