"""Normalising free strings from hubs, shared by the domain features and the fields-by-name features."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=65536)
def normalise_category(value: object) -> str | None:
    """Free strings from hubs: case, spacing and punctuation do not make a new category."""
    if value is None:
        return None
    text = " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").split())
    return text[:48] or None
