"""The capacity in force: a hub's screenings per hour are the admin's figure where one is set, else the configured.

The scorer applies it to the policy every few seconds; the queue and hub pages show it. The overrides are read
from the store here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parcelguard.config import Settings
    from scoring.store import Store


def in_force(store: Store, settings: Settings) -> dict[str, int]:
    """Screenings per hour by hub: configured figures, overridden by those an admin set in the store."""
    overrides = {hub: int(row.per_hour) for hub, row in store.capacity.overrides().items()}
    return {**settings.hub_capacity_per_hour, **overrides}
