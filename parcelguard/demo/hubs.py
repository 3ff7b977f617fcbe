"""The demo's hub registry: the generated world's Hainan hubs, registered once with their names and China time.

A hub already registered (by an earlier start, an admin or PARCELGUARD_HUBS) is left as it is: an admin's
edits survive a restart of the demo.
"""

from __future__ import annotations

from collections.abc import Mapping

from scoring.hubs import HubSpec
from scoring.store import Store

TIME_ZONE = "Asia/Shanghai"  # Hainan keeps China Standard Time, UTC+8, all year
NAMES = {"HAK-MEILAN": "Haikou Meilan", "HAK-XIUYING": "Haikou Xiuying", "SYX-TIANYA": "Sanya Tianya"}


def register(store: Store, capacities: Mapping[str, int]) -> list[str]:
    """Register the hubs the demo feeds that the registry lacks; the ids newly registered."""
    known = {hub.hub_id for hub in store.hubs.all()}
    added = []
    for hub_id, per_hour in sorted(capacities.items()):
        if hub_id not in known:
            spec = HubSpec(hub_id=hub_id, name=NAMES.get(hub_id, hub_id), time_zone=TIME_ZONE,
                           default_capacity=per_hour)
            store.hubs.save(spec.row(), actor="parcelguard-up")
            added.append(hub_id)
    return added
