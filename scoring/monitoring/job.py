"""The monitoring job (``parcelguard monitor``, and a thread of ``parcelguard up``): fold, then judge closed windows.

Each pass folds the hours that changed (``fold``) and judges every window that has closed since the last
pass, once: hour, day and week windows whose end is ``GRACE`` of event time behind the newest decision.
A judged window is marked in the store, so a second pass (or a second job) writes no second alert; the
alerts are upserted by key besides. Page views only read: they never judge or store alerts.

Windows are judged once, when they close: outcomes recorded later move the hit and miss rates the pages
show, but raise no alert for that window.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from parcelguard.config import Settings
from scoring.monitoring import fold, monitor, report
from scoring.store import Store

log = logging.getLogger(__name__)
GRACE = timedelta(minutes=10)  # event time a window waits after its end for stragglers before it is judged
INTERVAL_S = 60.0


@dataclass
class Pass:
    """What one pass of the job did."""

    folded: fold.Folded
    judged: dict[str, int] = field(default_factory=dict)  # granularity -> windows judged
    alerts: list[monitor.Alert] = field(default_factory=list)
    new_alerts: int = 0
    seconds: float = 0.0


def closed_windows(store: Store, granularity: str, horizon: datetime) -> list[datetime]:
    """Starts of the windows with folded decisions that ended before ``horizon`` and were not judged yet,
    within the granularity's default span (older windows of a backfilled store are not judged afresh)."""
    length = monitor.GRANULARITIES[granularity]
    earliest = horizon - monitor.DEFAULT_SPAN[granularity] - length
    hours = store.aggregates.folded_per_hour(earliest)
    starts = sorted({monitor.window_start(h, granularity) for h in hours})
    closed = [s for s in starts if s + length <= horizon and s >= earliest]
    done = store.aggregates.evaluated(granularity, closed)
    return [s for s in closed if s not in done]


def run_once(settings: Settings, store: Store, full: bool = False, refold: bool = False) -> Pass:
    """Fold what changed (``full``: compare every hour; ``refold``: refold every hour), then judge and store the
    alerts of every newly closed window."""
    started = time.perf_counter()
    facts = report.registry_facts(settings)
    if facts.error is not None:  # no reference bins: folding now would leave hours without histograms for good
        log.warning("model registry unavailable; monitoring pass skipped", extra={"error": facts.error})
        return Pass(fold.Folded(0, 0, None), seconds=time.perf_counter() - started)
    layouts = report.layouts(settings, facts)
    result = Pass(fold.fold(settings, store, layouts, full=full, refold=refold))
    found = store.reads.time_range()
    if found is not None:
        horizon = found[1] - GRACE
        for granularity, length in monitor.GRANULARITIES.items():
            todo = closed_windows(store, granularity, horizon)
            if not todo:
                continue
            built = report.run(settings, store, granularity, since=todo[0], until=todo[-1] + length, facts=facts)
            wanted = set(todo)
            alerts = [a for a in monitor.evaluate_alerts(built) if a.window_start in wanted]
            result.new_alerts += store.alerts.record([a.as_row() for a in alerts])
            store.aggregates.mark_evaluated(granularity, todo)
            result.alerts += alerts
            result.judged[granularity] = len(todo)
    if result.new_alerts:
        log.warning("drift or performance alerts raised", extra={"new_alerts": result.new_alerts})
    result.seconds = time.perf_counter() - started
    return result


def run_forever(settings: Settings, store: Store, stop: threading.Event, interval_s: float = INTERVAL_S) -> None:
    """Passes every ``interval_s`` until ``stop`` is set; the first compares every hour (automatic backfill).
    A failed pass is logged with its error and retried at the next interval."""
    full = True
    while not stop.is_set():
        try:
            run_once(settings, store, full=full)
            full = False
        except Exception:  # the job outlives a database hiccup or a registry outage; the error is logged
            log.exception("monitoring pass failed; retrying", extra={"retry_in_s": interval_s})
        stop.wait(interval_s)


def drift_report(
    settings: Settings, store: Store, out_dir: Path, granularity: str = "day", since: datetime | None = None,
    until: datetime | None = None, hub: str | None = None, to_mlflow: bool = True,
) -> tuple[monitor.Report, Pass, Path, Path, list[str]]:
    """``parcelguard drift``: a pass of the job (fold, judge closed windows), then the report for the period
    as HTML and JSON, logged beside each judged model."""
    done = run_once(settings, store)
    facts = report.registry_facts(settings)
    built = report.run(settings, store, granularity, since, until, hub=hub, facts=facts)
    stored = [a.as_dict() for a in store.alerts.recent(limit=1000, since=built.since)
              if hub is None or a.scope in (hub, monitor.ALL)]
    built.alerts = [a for a in monitor.evaluate_alerts(built) if a.window_end <= built.until]
    html_path, json_path = report.write(built, out_dir, stored)
    run_ids = report.log_to_mlflow(built, facts, html_path, json_path) if to_mlflow and not facts.error else []
    return built, done, html_path, json_path, run_ids
