"""Simulated X-ray stations: one per hub works the flagged queue at the hub's capacity and records what
the generator's truth says a real X-ray would find.

Each station acts as ``sim-xray-<HUB>``: claims, outcomes and audit entries carry that name and the
outcome's note says it is simulated, so the pages and the audit never pass it off as a person's work.
The outcomes feed hit rates, miss-rate estimates and retraining exactly as screeners' outcomes do.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from models.manifest import Outcome
from parcelguard.demo.feed import TruthBook
from scoring.store import Store

log = logging.getLogger(__name__)
ACTOR_PREFIX = "sim-xray-"
NOTE = "simulated X-ray station (parcelguard up demo): result taken from the synthetic world's truth"
CLAIM_TTL = dt.timedelta(minutes=5)
SIMULATED_TYPE = "simulated"


def station_actor(hub_id: str) -> str:
    return f"{ACTOR_PREFIX}{hub_id}"


@dataclass
class StationCounts:
    screened: int = 0
    contraband: int = 0


class XrayStation:
    """Screens one parcel every ``3600 / capacity_per_hour`` wall seconds when one is waiting."""

    def __init__(self, store: Store, hub_id: str, capacity_per_hour: int, truth: TruthBook,
                 stop: threading.Event) -> None:
        self.store, self.hub_id, self.truth, self.stop = store, hub_id, truth, stop
        self.interval_s = 3600.0 / capacity_per_hour
        self.actor = station_actor(hub_id)
        self.counts = StationCounts()

    def screen_next(self) -> bool:
        """Claim the hub's highest-risk waiting parcel and record its outcome; False when none waits."""
        parcel_id = self.store.claims.claim_next(self.hub_id, self.actor, CLAIM_TTL)
        if parcel_id is None:
            return False
        contraband = self.truth.is_contraband(parcel_id)
        self.store.outcomes.record(Outcome(
            parcel_id=parcel_id, screened_at=dt.datetime.now(dt.UTC), result="contraband" if contraband else "clear",
            contraband_type=SIMULATED_TYPE if contraband else None, source="xray", note=NOTE,
        ), self.actor)
        self.counts.screened += 1
        self.counts.contraband += contraband
        return True

    def run(self) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                self.screen_next()
            except Exception:  # a store hiccup costs one slot, never the station
                log.exception("simulated X-ray station failed a slot", extra={"hub": self.hub_id})
