"""The demo's keys: a random one per hub screener, one analyst and one admin key, kept across restarts.

The store keeps only each key's hash, as ``parcelguard add-key`` does. The plaintext is also kept in a
0600 file under the data folder, so every start of the demo can print the keys again: a demo user who
missed the banner would otherwise have to issue new keys. That file is as sensitive as the SQLite store
beside it; outside the demo, keys come from ``parcelguard add-key`` and are printed once.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from scoring.store import Store

KEY_BYTES = 24


@dataclass(frozen=True, slots=True)
class DemoKey:
    name: str
    role: str
    hub_id: str | None
    key: str


def wanted(hubs: list[str]) -> list[tuple[str, str, str | None]]:
    """(name, role, hub) of every key the demo prints."""
    return ([(f"demo-screener-{hub}", "screener", hub) for hub in hubs]
            + [("demo-analyst", "analyst", None), ("demo-admin", "admin", None)])


def _read(path: Path) -> dict[str, DemoKey]:
    if not path.exists():
        return {}
    return {row["name"]: DemoKey(**row) for row in json.loads(path.read_text(encoding="utf-8"))}


def _write(path: Path, keys: list[DemoKey]) -> None:
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump([asdict(key) for key in keys], out, indent=1)
    os.replace(temp, path)


def ensure_keys(store: Store, path: Path, hubs: list[str]) -> list[DemoKey]:
    """The demo's keys: those in the file that the store still accepts, new random ones for the rest.

    A key an admin revoked, or one lost with the database, is replaced rather than revived."""
    kept = _read(path)
    keys = []
    for name, role, hub in wanted(hubs):
        key = kept.get(name)
        holder = store.access.principal(key.key) if key is not None else None
        if key is None or holder is None or holder.name != name or holder.role != role:
            key = DemoKey(name, role, hub, secrets.token_urlsafe(KEY_BYTES))
            store.access.add_key(name, role, key.key, hub, actor="parcelguard-up")
        keys.append(key)
    _write(path, keys)
    return keys
