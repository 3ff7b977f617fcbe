"""Validation errors in words a screener or an admin can act on, naming the field a program would send.

Pydantic says "entries.0.value: String should have at least 1 character"; people get "entries, item 1,
value: must not be empty". The field keeps its API name (a program calling the API must find it), the
position in a list counts from 1, and the message says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

WHERE = ("body", "query", "path", "header", "cookie")  # where FastAPI found the input: not part of the field's name
ID_CHARS = "only letters, digits, dots, dashes and underscores"


def _branch(part: Any) -> bool:
    """A union's branch in an error's location (the model's name, or a validator's tag), not a field: the API's
    fields are snake_case."""
    return isinstance(part, str) and bool(part) and (part[0].isupper() or "[" in part)


def field_name(loc: Sequence[Any]) -> str:
    parts = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in loc if p not in WHERE and not _branch(p)]
    return ", ".join(parts) or "the request"


def closest(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """For a value that fits none of a union's shapes, the errors of the shape it came closest to (fewest errors):
    the others only say it is not that shape."""
    def branch(error: Mapping[str, Any]) -> str | None:
        return next((str(p) for p in error.get("loc", ()) if _branch(p)), None)

    counts: dict[str, int] = {}
    for error in errors:
        tag = branch(error)
        if tag is not None:
            counts[tag] = counts.get(tag, 0) + 1
    if not counts:
        return list(errors)
    best = min(counts, key=lambda tag: counts[tag])
    return [e for e in errors if branch(e) in (None, best)]


def _choices(ctx: Mapping[str, Any]) -> str:
    return str(ctx.get("expected", "")).replace("'", "")


def _bound(kind: str, ctx: Mapping[str, Any]) -> str:
    value = ctx.get({"ge": "ge", "gt": "gt", "le": "le", "lt": "lt"}[kind])
    return {"ge": f"must be at least {value}", "gt": f"must be more than {value}",
            "le": f"must be at most {value}", "lt": f"must be less than {value}"}[kind]


def phrase(error: Mapping[str, Any]) -> str:
    """What is wrong with one value, without its field name."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    if kind == "missing":
        return "is required: fill it in"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"needs at least {least} characters"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        ids = "A-Za-z0-9" in str(ctx.get("pattern", ""))
        return f"may contain {ID_CHARS}" if ids else "has characters not allowed here"
    bounds = {"greater_than_equal": "ge", "greater_than": "gt", "less_than_equal": "le", "less_than": "lt"}
    if kind in bounds:
        return _bound(bounds[kind], ctx)
    if kind in ("literal_error", "enum"):
        return f"must be one of: {_choices(ctx)}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be text"
    if kind == "extra_forbidden":
        return "is not a field here: leave it out"
    if kind == "timezone_aware":
        return "needs its time zone, e.g. 2026-11-27T14:05:00+08:00"
    if kind.startswith("datetime"):
        return "must be a date and time such as 2026-11-27T14:05:00+08:00"
    if kind == "json_invalid":
        return "is not valid JSON"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def explain(errors: Sequence[Mapping[str, Any]], limit: int = 3) -> str:
    """Up to ``limit`` problems, one sentence each; the count of the rest."""
    errors = closest(errors)
    said = [f"{field_name(e.get('loc', ()))}: {phrase(e)}" for e in errors[:limit]]
    more = len(errors) - limit
    return "; ".join(said) + (f" (and {more} more)" if more > 0 else "")
