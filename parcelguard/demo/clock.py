"""The demo's clock: how fast the synthetic world runs against the wall clock, and the capacities that follow.

Every timestamp the service sees is the wall clock (a manifest is stamped ``accepted_at`` when the feed sends
it), so the scorer's event-time budget, the queue page's "this hour" and the stations all count the same hours.
``speed`` compresses the world instead: at ``--speed 60`` an hour of the world's parcels arrives in a minute,
and every hub's X-ray capacity is 60 times its real-time figure, so flags stay within capacity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from parcelguard.errors import ParcelGuardError

DAY_S = 86_400


class DemoSettingsError(ParcelGuardError):
    """A demo option is out of range (a speed of zero, a world with no parcels)."""


@dataclass(frozen=True, slots=True)
class DemoClock:
    """World seconds per wall second, and the world's volume it paces."""

    speed: float
    parcels_per_day: int

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise DemoSettingsError(f"--speed must be above 0 (1 is real time), got {self.speed}")
        if self.parcels_per_day < 1:
            raise DemoSettingsError(f"--per-day must be at least 1, got {self.parcels_per_day}")

    @property
    def manifests_per_second(self) -> float:
        """The feed's mean rate on the wall clock (it follows the world's hour-of-day pattern around it)."""
        return self.parcels_per_day * self.speed / DAY_S

    def wall_seconds(self, world_seconds: float) -> float:
        return world_seconds / self.speed

    def describe(self) -> str:
        if self.speed == 1:
            return "real time (one world second per second)"
        return f"{self.speed:g}x real time (a world day every {DAY_S / self.speed / 60:.0f} minutes)"


def hub_capacities(in_scope_per_day: Mapping[str, int], share: float, speed: float) -> dict[str, int]:
    """X-ray parcels per wall-clock hour per hub: ``share`` of its in-scope parcels in an average hour, at ``speed``.

    At least one an hour, so a quiet hub still gets screened."""
    return {hub: max(1, math.ceil(count / 24 * share * speed)) for hub, count in sorted(in_scope_per_day.items())}


def in_scope_per_day(
    day: Iterable[dict[str, Any]], origins: Iterable[str], destinations: Iterable[str]
) -> Counter[str]:
    """In-scope parcels per hub in one day of manifests (priority origin province into a destination province)."""
    origin_set, destination_set = set(origins), set(destinations)
    counts: Counter[str] = Counter()
    for manifest in day:
        origin, destination = manifest["origin"], manifest["destination"]
        if (_named(origin_set, origin["province"], origin["city"])
                and _named(destination_set, destination["province"], destination["city"])):
            counts[str(manifest["hub_id"])] += 1
    return counts


def _named(names: set[str], province: str, city: str) -> bool:
    return "*" in names or province in names or city in names
