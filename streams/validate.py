"""Raw Kafka bytes to a validated manifest, or a reason that goes to the dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from models.manifest import SCHEMA_VERSION, Manifest


@dataclass(frozen=True)
class Rejected:
    reason: str


def explain_validation(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "manifest"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_manifest(value: bytes | None, max_bytes: int) -> tuple[Manifest, dict[str, Any]] | Rejected:
    if value is None:
        return Rejected("empty message (tombstone)")
    if len(value) > max_bytes:
        return Rejected(f"oversize: {len(value)} bytes, limit {max_bytes}")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"invalid JSON: {exc}")
    if not isinstance(raw, dict):
        return Rejected(f"a manifest must be a JSON object, got {type(raw).__name__}")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        return Rejected(f"unknown schema_version {version!r}; supported: {SCHEMA_VERSION}")
    try:
        return Manifest.model_validate(raw), raw
    except ValidationError as exc:
        return Rejected(f"invalid manifest: {explain_validation(exc)}")
