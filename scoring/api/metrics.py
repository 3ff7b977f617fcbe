"""What the API's ``/metrics`` reports: the scorer fleet as its heartbeats describe it, and the screening queues.

Each scorer serves its own detailed metrics (``parcelguard score --metrics-port``); this view needs only
the database, so one scrape of the API shows every replica's model version and counts, and each hub's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from scoring.readiness import LIVE_SCORER
from scoring.store import Store

QUEUE_WINDOW = timedelta(hours=1)


class StoreCollector(Collector):
    """Read at scrape time: live scorers' heartbeats and the per-hub queue (two small queries)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        now = datetime.now(UTC)
        live = [w for w in self.store.workers.statuses()
                if w.kind == "scorer" and w.heartbeat_at and now - w.heartbeat_at < LIVE_SCORER]
        yield GaugeMetricFamily("parcelguard_fleet_scorers_live", "Scorers heard from in the last 30 s",
                                value=len(live))
        version = GaugeMetricFamily("parcelguard_fleet_model_version", "1 per live scorer and the model version "
                                    "it serves (\"none\": fail-safe)", labels=["worker", "version"])
        fail_safe = GaugeMetricFamily("parcelguard_fleet_fail_safe", "1 while a scorer has no model",
                                      labels=["worker"])
        age = GaugeMetricFamily("parcelguard_fleet_heartbeat_age_seconds", "Seconds since a scorer reported",
                                labels=["worker"])
        counts = {name: CounterMetricFamily(f"parcelguard_fleet_{name}", f"{help_} (as of its last heartbeat)",
                                            labels=["worker"])
                  for name, help_ in (("consumed", "Manifests a scorer consumed"),
                                      ("decided", "Decisions a scorer published"),
                                      ("dead_lettered", "Manifests a scorer dead-lettered"))}
        for w in live:
            worker = str(w.worker_id)
            version.add_metric([worker, str(w.model_version or "none")], 1)
            fail_safe.add_metric([worker], 1 if w.fail_safe else 0)
            age.add_metric([worker], (now - w.heartbeat_at).total_seconds() if w.heartbeat_at else 0.0)
            for name, family in counts.items():
                family.add_metric([worker], float(getattr(w, name) or 0))
        yield from (version, fail_safe, age, *counts.values())

        waiting = GaugeMetricFamily("parcelguard_queue_waiting", "Flagged parcels waiting for a screener",
                                    labels=["hub"])
        held = GaugeMetricFamily("parcelguard_queue_held", "Flagged parcels a screener holds a claim on",
                                 labels=["hub"])
        flagged = GaugeMetricFamily("parcelguard_flagged_last_hour", "Parcels flagged for screening in the last "
                                    "hour", labels=["hub"])
        for hub in self.store.queue.hubs_overview(now - QUEUE_WINDOW, now):
            waiting.add_metric([hub.hub_id], hub.waiting)
            held.add_metric([hub.hub_id], hub.held)
            flagged.add_metric([hub.hub_id], hub.flagged)
        yield from (waiting, held, flagged)


def api_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    return registry
