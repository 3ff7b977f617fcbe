"""Raw Kafka bytes to a validated manifest, or a reason that goes to the dead-letter topic.

Every rejection carries a short machine-readable ``code`` (what metrics and the DLQ headers group by)
and a human ``reason`` naming the field and the problem, so a hub can fix its feed from the DLQ alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from models.manifest import SCHEMA_VERSION, Manifest

# Rejection codes, one per kind of bad input the scorer dead-letters.
EMPTY = "empty"
OVERSIZE = "oversize"
INVALID_JSON = "invalid_json"
NOT_OBJECT = "not_object"
UNKNOWN_SCHEMA = "unknown_schema_version"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
# Past validation: a record the feature code or the store refused after bounded tries (streams.poison),
# and a parcel id already decided for another hub.
REFUSED = "unprocessable"
PARCEL_ID_CONFLICT = "parcel_id_conflict"
UNKNOWN_HUB = "unknown_hub"  # a hub the (non-empty) hub registry does not list (scoring.hubs)
CODES = (EMPTY, OVERSIZE, INVALID_JSON, NOT_OBJECT, UNKNOWN_SCHEMA, MISSING_FIELD, INVALID_FIELD, REFUSED,
         PARCEL_ID_CONFLICT, UNKNOWN_HUB)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    code: str = INVALID_FIELD


def registered(parsed: tuple[Manifest, dict[str, Any]] | Rejected,
               accepts: Callable[[str], bool]) -> tuple[Manifest, dict[str, Any]] | Rejected:
    """``parsed``, or its rejection when the hub registry (``accepts``: an empty registry accepts every hub) does
    not list its hub: the stream and ``score-file`` check hubs alike."""
    if isinstance(parsed, Rejected) or accepts(parsed[0].hub_id):
        return parsed
    return Rejected(f"hub_id {parsed[0].hub_id!r} is not a registered hub: register it, or fix the hub's feed",
                    UNKNOWN_HUB)


def explain_validation(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "manifest"
        parts.append(f"{where}: {error['msg']}")
    more = len(errors) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_manifest(value: bytes | None, max_bytes: int) -> tuple[Manifest, dict[str, Any]] | Rejected:
    """The manifest and its raw dict (extra fields included), or why it cannot be scored."""
    raw = _raw(value, max_bytes)
    return raw if isinstance(raw, Rejected) else _validated(raw)


def parse_manifests(values: Sequence[bytes | None], max_bytes: int) -> list[tuple[Manifest, dict[str, Any]] | Rejected]:
    """``parse_manifest`` of each value, the contract checked over the whole batch in one pydantic call.

    One call over the batch costs about three quarters of one call per manifest (docs/performance-2026-11.md).
    If any manifest fails it, each is validated alone, so every reason is exactly ``parse_manifest``'s.
    """
    out: list[tuple[Manifest, dict[str, Any]] | Rejected | dict[str, Any]] = [_raw(v, max_bytes) for v in values]
    raws = [item for item in out if isinstance(item, dict)]
    try:
        manifests = iter(_batch_adapter().validate_python(raws))
    except ValidationError:
        return [_validated(item) if isinstance(item, dict) else item for item in out]
    return [(next(manifests), item) if isinstance(item, dict) else item for item in out]


@cache
def _batch_adapter() -> TypeAdapter[list[Manifest]]:
    return TypeAdapter(list[Manifest])  # built on first use: nothing is done at import


def _raw(value: bytes | None, max_bytes: int) -> dict[str, Any] | Rejected:
    """The record as a JSON object of the supported schema version, or why it is not one."""
    if not value:  # None is a tombstone; b"" is a producer bug; neither is a manifest
        return Rejected("empty message: no manifest in the record value", EMPTY)
    if len(value) > max_bytes:
        return Rejected(f"oversize: {len(value)} bytes, limit {max_bytes}", OVERSIZE)
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"invalid JSON: {exc}", INVALID_JSON)
    if not isinstance(raw, dict):
        return Rejected(f"a manifest must be a JSON object, got {type(raw).__name__}", NOT_OBJECT)
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        return Rejected(f"unknown schema_version {version!r}; supported: {SCHEMA_VERSION}", UNKNOWN_SCHEMA)
    return raw


def _validated(raw: dict[str, Any]) -> tuple[Manifest, dict[str, Any]] | Rejected:
    try:
        return Manifest.model_validate(raw), raw
    except ValidationError as exc:
        missing = any(error["type"] == "missing" for error in exc.errors(include_url=False))
        return Rejected(f"invalid manifest: {explain_validation(exc)}", MISSING_FIELD if missing else INVALID_FIELD)
