"""As-of-decision-time outcome rates for identifiers and pairs of fields (by name, from the spec).

For a key (one field's value, or two fields' values together) a parcel sees what screening had found
on earlier parcels with the same key *before its own decision*: ``rate = (seized + m·p0)/(screened + m)``
(an m-estimate shrunk towards the training base rate ``p0``), the screened count, and for single
fields how many parcels carried the key before. The counts live in the entity-stat table beside the
parties' history (``models.history``): a key's ``count`` is its parcels seen, ``screened``/``seized``
its outcomes, credited by the same outcome path. Keys are digests of the field names and values; the
values of personal fields are already keyed hashes (the manifest is redacted first), so the store
never holds a personal value in clear.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from models.fields import FieldSpec, FieldValue

RATE, SCREENED, SEEN = "rate:", "screened:", "seen:"
STAT_PREFIXES = (RATE, SCREENED, SEEN)
Counts = tuple[int, int]  # (screened, seized)


def pair_name(a: str, b: str) -> str:
    return f"{a}*{b}"


def stat_key(name: str, fields: Mapping[str, FieldValue]) -> str | None:
    """The store key of stat ``name`` (a field, or ``a*b``) for a parcel; None when a value is missing."""
    return _key(name, _parts(name), fields)


@lru_cache(maxsize=4096)
def _parts(name: str) -> tuple[str, ...]:
    return tuple(name.split("*"))


def _key(name: str, parts: tuple[str, ...], fields: Mapping[str, FieldValue]) -> str | None:
    values = []
    for part in parts:
        value = fields.get(part)
        if value is None or isinstance(value, float):
            return None
        values.append(value)
    digest = hashlib.blake2b(f"{name}={_SEPARATOR.join(values)}".encode(), digest_size=12).hexdigest()
    return f"s:{digest}"


_SEPARATOR = chr(31)


def stat_names(spec: FieldSpec) -> list[str]:
    return [*spec.singles, *(pair_name(a, b) for a, b in spec.pairs)]


def feature_names(spec: FieldSpec) -> list[str]:
    names: list[str] = []
    for name in spec.singles:
        names += [RATE + name, SCREENED + name, SEEN + name]
    for a, b in spec.pairs:
        names += [RATE + pair_name(a, b), SCREENED + pair_name(a, b)]
    return names


@dataclass(frozen=True, slots=True)
class StatKeys:
    """The stat keys of one parcel, by stat name (None where the parcel lacks a value)."""

    by_name: dict[str, str | None]

    def present(self) -> list[str]:
        return [key for key in self.by_name.values() if key is not None]


def keys_for(spec: FieldSpec, fields: Mapping[str, FieldValue]) -> StatKeys:
    # Every parcel asks for ~30 keys: the names and their parts are worked out once per spec.
    plan = _plan(tuple(spec.singles), tuple((a, b) for a, b in spec.pairs))
    return StatKeys({name: _key(name, parts, fields) for name, parts in plan})


@lru_cache(maxsize=64)
def _plan(singles: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    names = [*singles, *(pair_name(a, b) for a, b in pairs)]
    return tuple((name, _parts(name)) for name in names)


def read(spec: FieldSpec, keys: StatKeys, seen: Mapping[str, int], found: Mapping[str, Counts]
         ) -> dict[str, float]:
    """Stat features from the keys' seen counts and outcome counts (both as of before this parcel)."""
    out: dict[str, float] = {}
    singles = set(spec.singles)
    for name, key in keys.by_name.items():
        if key is None:
            out[RATE + name] = out[SCREENED + name] = math.nan
            if name in singles:
                out[SEEN + name] = math.nan
            continue
        screened, seized = found.get(key, (0, 0))
        out[RATE + name] = (seized + spec.m * spec.prior) / (screened + spec.m)
        out[SCREENED + name] = float(screened)
        if name in singles:
            out[SEEN + name] = float(seen.get(key, 0))
    return out


def keys_from_row(row: Mapping[str, object], field_prefix: str) -> list[str]:
    """The stat keys of a logged row: the stats it carries (``rate:`` names), keyed by the field values it
    logged (``field_prefix`` + name). An outcome credits exactly the keys the decision read."""
    fields = {k[len(field_prefix):]: v for k, v in row.items() if k.startswith(field_prefix) and isinstance(v, str)}
    keys = [stat_key(name[len(RATE):], fields) for name in row if name.startswith(RATE)]
    return [key for key in keys if key is not None]
