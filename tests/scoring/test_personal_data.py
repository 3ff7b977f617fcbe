"""Personal data by allow-list, through the real scorer path: fields a hub adds that the contract does not
declare (an e-mail, an address, an ID number, a customer's name and phone) never reach the database, the logs
or the published decisions in clear, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from parcelguard import logs
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams.validate import Rejected, parse_manifest
from tests.conftest import make_settings
from tests.streams.support import manifests, tiny_model

# Values a hub might add outside the contract; none of them may be stored or logged in clear.
EXTRA_PERSONAL: dict[str, Any] = {
    "sender__email": "zhang.wei.private@example.com",
    "sender__address": "88 Dianchi Road, Guandu, Kunming",
    "recipient__id_number": "460102199203034567",
    "recipient__passport": 98765432101,  # a number long enough to identify someone
    "customer_name": "Wang Xiaoming",
    "customer_phone": "13712345678",
    "notes": "call Wang Xiaoming on 13712345678 before delivery, gate code 4471, he works nights",
    "contacts": [{"name": "Liu Yang", "phone": "13698765432"}],
}
FEATURE_EXTRAS = {"import_type": "B2C", "tax_rate": 0.13, "origin_indicator": True}


def _all_text(store: Store, db_file: Path) -> str:
    """Everything the store holds: every table's rows, and on SQLite the bytes of its files (WAL included)."""
    files = ""
    if store.engine.dialect.name == "sqlite":
        files = " ".join(p.read_bytes().decode("utf-8", errors="ignore") for p in db_file.parent.glob("store.db*"))
        listing = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        listing = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    with store.engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text(listing))]
        rows = " ".join(str(row) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"')))
    assert "X0000000" in rows + files  # the scan sees the stored decisions
    return files + rows


def _clear_values() -> list[str]:
    values: list[str] = []
    for value in EXTRA_PERSONAL.values():
        if isinstance(value, list):
            values += [str(v) for item in value for v in item.values()]
        else:
            values.append(str(value))
    return [*values, "Wang Xiaoming", "4471"]


def test_undeclared_personal_fields_are_never_stored_or_logged_in_clear(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    logs.setup("DEBUG")
    caplog.set_level(logging.DEBUG)
    raw = manifests(40, prefix="X")
    for m in raw:
        for key, value in {**EXTRA_PERSONAL, **FEATURE_EXTRAS}.items():
            section, _, field = key.rpartition("__")
            (m[section] if section else m)[field] = value
    parsed = [parse_manifest(orjson.dumps(m), 64 * 1024) for m in raw]
    assert not any(isinstance(p, Rejected) for p in parsed)
    settings = make_settings(tmp_path / "data", priority_origins=["*"], capacity_share=0.5)
    model, _ = tiny_model()
    published = Scorer(settings, store, ModelSource.fixed(model)).process(parsed)  # type: ignore[arg-type]
    assert len(published) == 40 and store.decisions.count() == 40

    held = _all_text(store, tmp_path / "store.db") + caplog.text + orjson.dumps(
        [d.model_dump(mode="json") for d in published]).decode()
    for value in _clear_values():
        assert value not in held, f"{value!r} is in clear"

    stored = store.decisions.get("X0000000")
    assert stored is not None and stored.manifest is not None
    kept = stored.manifest
    # Categorical extras stay usable as categories (a keyed hash), numbers and booleans stay as they are,
    # long free text is dropped, and the known personal fields keep exactly the entity keys' hashes.
    assert kept["import_type"].startswith("h:") and kept["tax_rate"] == 0.13 and kept["origin_indicator"] is True
    assert "notes" not in kept and kept["sender"]["email"].startswith("h:")
    assert kept["contacts"][0]["phone"].startswith("h:") and kept["recipient"]["passport"].startswith("h:")
    hasher = Scorer(settings, store, ModelSource.fixed(None)).hasher
    assert kept["sender"]["phone"] == hasher("phone", raw[0]["sender"]["phone"])
    assert kept["origin"]["city"] == "Kunming" and kept["contents"]["description"] == "tea"


def test_the_drop_policy_keeps_no_undeclared_string_in_any_form(tmp_path: Path, store: Store) -> None:
    raw = manifests(3, prefix="D")
    for m in raw:
        m.update(customer_name="Wang Xiaoming", import_type="B2C", tax_rate=0.13)
    parsed = [parse_manifest(orjson.dumps(m), 64 * 1024) for m in raw]
    settings = make_settings(tmp_path / "data", extra_fields="drop")
    Scorer(settings, store, ModelSource.fixed(None)).process(parsed)  # type: ignore[arg-type]
    stored = store.decisions.get("D0000000")
    assert stored is not None and stored.manifest is not None
    assert "customer_name" not in stored.manifest and "import_type" not in stored.manifest
    assert stored.manifest["tax_rate"] == 0.13
