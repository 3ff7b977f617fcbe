"""Keyed hashes for personal data, and the allow-list redaction of manifests before they are stored.

Keyed BLAKE2b (a MAC by design, and one C call, unlike the hmac module) with the deployment's secret
key, over a normalised value, so that the same phone
written ``138-0013-8000`` or ``13800138000`` hashes alike and nobody without the key can
reverse a hash by enumerating phone numbers.

Redaction keeps in clear only what the contract declares non-personal (``models.parties.CLEAR_BY_SECTION``),
hashes the known personal fields exactly as the entity keys do, and treats every other field a hub adds, at
any depth, as possibly personal (``RedactionPolicy``): booleans and ordinary numbers stay (they are features,
not people), numbers long enough to be a phone or an ID number and short strings are hashed (a keyed hash
still works as a category), long free text and odd keys are dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from models.parties import CLEAR_BY_SECTION, PERSONAL_BY_SECTION
from parcelguard.config import Settings

_SPACES = re.compile(r"[\s\-()+]")
# A key a hub might reasonably name a field; anything else (a name used as a key, say) is dropped with its value.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_MAX_DEPTH = 8  # deeper nesting than any real manifest has is dropped rather than walked
_IDENTIFYING_NUMBER = 1_000_000  # 7+ digits: a phone, an ID or an account number more likely than a feature

ExtraPolicy = Literal["hash", "drop"]


def normalise(value: str) -> str:
    """What a value is hashed as: without spaces, dashes, brackets and plus signs, lower case ("" hashes to None)."""
    return _SPACES.sub("", value).lower()


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What becomes of a field the contract does not declare (``PARCELGUARD_EXTRA_FIELDS``, ``…_MAX_CHARS``)."""

    extra_strings: ExtraPolicy = "hash"  # "drop": no undeclared string is kept in any form
    max_chars: int = 64  # longer undeclared strings are free text (notes, addresses): always dropped


class Hasher:
    """Turns a personal value into a stable, keyed, non-reversible token."""

    def __init__(self, key: str, cache_size: int = 200_000, policy: RedactionPolicy | None = None) -> None:
        self._key = hashlib.sha256(key.encode()).digest()  # BLAKE2b keys are at most 64 bytes
        self.policy = policy or RedactionPolicy()
        # The scorer hashes each party several times (entity keys, rules, redaction) and the same senders
        # and addresses recur: a bounded in-memory cache of tokens saves most of it (nothing is written out).
        self._cached = lru_cache(maxsize=cache_size)(self._token)

    def __call__(self, kind: str, value: str | None) -> str | None:
        """``kind`` is the field's name (phone, address...), so a phone hashes alike as sender or recipient."""
        if value is None:
            return None
        return self._cached(kind, value)

    def _token(self, kind: str, value: str) -> str | None:
        normalised = normalise(value)
        if not normalised:
            return None
        digest = hashlib.blake2b(f"{kind}:{normalised}".encode(), key=self._key, digest_size=12).hexdigest()
        return f"h:{digest}"

    def redact(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A copy of a raw manifest dict holding only declared non-personal fields in clear (see the module)."""
        redacted: dict[str, Any] = {}
        top = CLEAR_BY_SECTION[""]
        for name, value in manifest.items():
            if name in top:
                redacted[name] = value
            elif name in CLEAR_BY_SECTION and isinstance(value, dict):
                redacted[name] = self._section(name, value)
            else:
                self._keep_extra(redacted, name, value, 0)
        return redacted

    def _section(self, section: str, part: dict[str, Any]) -> dict[str, Any]:
        clear, personal = CLEAR_BY_SECTION[section], PERSONAL_BY_SECTION.get(section, ())
        out: dict[str, Any] = {}
        for name, value in part.items():
            if name in clear:
                out[name] = value
            elif name in personal:
                out[name] = None if value is None else self(name, str(value))  # exactly the entity keys' hash
            else:
                self._keep_extra(out, name, value, 1)
        return out

    def _keep_extra(self, out: dict[str, Any], name: str, value: Any, depth: int) -> None:
        """Put the redacted form of an undeclared field into ``out``, or leave it out."""
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            return
        kept = self._extra(name, value, depth)
        if kept is not _DROP:
            out[name] = kept

    def _extra(self, kind: str, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            if abs(value) < _IDENTIFYING_NUMBER:
                return value
            value = str(int(value)) if float(value).is_integer() else str(value)
        if isinstance(value, str):
            if self.policy.extra_strings == "drop" or len(value) > self.policy.max_chars:
                return _DROP
            return self(kind, value)
        if depth >= _MAX_DEPTH:
            return _DROP
        if isinstance(value, dict):
            nested: dict[str, Any] = {}
            for name, item in value.items():
                self._keep_extra(nested, name, item, depth + 1)
            return nested
        if isinstance(value, list):
            items = [self._extra(kind, item, depth + 1) for item in value]
            return [item for item in items if item is not _DROP]
        return _DROP


def hasher_for(settings: Settings) -> Hasher:
    """The deployment's hasher: its secret key and its policy for undeclared manifest fields."""
    return Hasher(settings.hash_key.get_secret_value(),
                  policy=RedactionPolicy(settings.extra_fields, settings.extra_field_max_chars))


_DROP = object()  # the marker for "leave this field out"
