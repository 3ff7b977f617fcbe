"""Keyed hashes for personal data: names, phones, ID numbers and addresses never travel in clear.

Keyed BLAKE2b (a MAC by design, and one C call, unlike the hmac module) with the deployment's secret
key, over a normalised value, so that the same phone
written ``138-0013-8000`` or ``13800138000`` hashes alike and nobody without the key can
reverse a hash by enumerating phone numbers.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from models.parties import PERSONAL_BY_SECTION

_SPACES = re.compile(r"[\s\-()+]")



class Hasher:
    """Turns a personal value into a stable, keyed, non-reversible token."""

    def __init__(self, key: str, cache_size: int = 200_000) -> None:
        self._key = hashlib.sha256(key.encode()).digest()  # BLAKE2b keys are at most 64 bytes
        # The scorer hashes each party several times (entity keys, rules, redaction) and the same senders
        # and addresses recur: a bounded in-memory cache of tokens saves most of it (nothing is written out).
        self._cached = lru_cache(maxsize=cache_size)(self._token)

    def __call__(self, kind: str, value: str | None) -> str | None:
        """``kind`` is the field's name (phone, address...), so a phone hashes alike as sender or recipient."""
        if value is None:
            return None
        return self._cached(kind, value)

    def _token(self, kind: str, value: str) -> str | None:
        normalised = _SPACES.sub("", value).lower()
        if not normalised:
            return None
        digest = hashlib.blake2b(f"{kind}:{normalised}".encode(), key=self._key, digest_size=12).hexdigest()
        return f"h:{digest}"

    def redact(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A copy of a raw manifest dict with every personal field (``models.parties``) replaced by its keyed hash."""
        redacted = dict(manifest)
        for section, fields in PERSONAL_BY_SECTION.items():
            part = manifest.get(section)
            if not isinstance(part, dict):
                continue
            part = dict(part)
            for field in fields:
                raw = part.get(field)
                if raw is not None:
                    part[field] = self(field, str(raw))
            redacted[section] = part
        return redacted
