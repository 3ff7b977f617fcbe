"""Times as people at a hub read them: in the hub's own time zone, always labelled ("14:05 CST (UTC+8)").

Pages tied to a hub (queue, parcel, hubs) use the hub's zone from the registry; pages that are not (models,
admin) say UTC. A time is never shown without its zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

UTC_ZONE = ZoneInfo("UTC")
FORMATS = {"time": "%H:%M", "seconds": "%H:%M:%S", "minute": "%Y-%m-%d %H:%M", "full": "%Y-%m-%d %H:%M:%S",
           "day": "%Y-%m-%d"}


def offset_text(at: datetime) -> str:
    """``UTC+8``, ``UTC-3:30``, ``UTC`` for an aware time."""
    offset = at.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def zone_label(zone: tzinfo, at: datetime | None = None) -> str:
    """``CST (UTC+8)``; ``UTC`` alone for UTC; the offset alone where the zone has no letters (``+05``)."""
    local = (at or datetime.now(UTC)).astimezone(zone)
    name, offset = local.tzname() or "", offset_text(local)
    if offset == "UTC" and name in ("UTC", ""):
        return "UTC"
    return f"{name} ({offset})" if name and name[0].isalpha() else offset


def at_hub(at: datetime | None, zone: tzinfo = UTC_ZONE, style: str = "minute") -> str:
    """``2026-11-27 14:05 CST (UTC+8)``: a time in ``zone``, with the zone named; ``–`` for none."""
    if at is None:
        return "–"
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # stored times are UTC
    local = aware.astimezone(zone)
    return f"{local.strftime(FORMATS[style])} {zone_label(zone, aware)}"
