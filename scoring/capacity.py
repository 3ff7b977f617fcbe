"""The capacity in force: a hub's screenings per hour are the admin's figure where one is set, else the configured.

Configured means, lowest first: the hub's default in the registry, then PARCELGUARD_HUB_CAPACITY_PER_HOUR. The
scorer applies it to the policy every few seconds; the queue, hub and admin pages show it. The overrides are read
from the store here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parcelguard.config import Settings
    from scoring.store import Store


def configured(store: Store, settings: Settings) -> dict[str, int]:
    """Screenings per hour by hub before any admin override: registry defaults, then the setting."""
    defaults = {hub.hub_id: hub.default_capacity for hub in store.hubs.all() if hub.default_capacity}
    return {**defaults, **settings.hub_capacity_per_hour}


def in_force(store: Store, settings: Settings) -> dict[str, int]:
    """Screenings per hour by hub: configured figures, overridden by those an admin set in the store."""
    overrides = {hub: int(row.per_hour) for hub, row in store.capacity.overrides().items()}
    return {**configured(store, settings), **overrides}
