"""The analyst pages' label read at the bench's store: folded sums (``Aggregates.labels``) against the log query
(``labels_from_log``, what every page ran before the labels were folded), in one process, interleaved.

Seeds a store as ``parcelguard bench-pages`` does (1M decisions over 120 days by default), makes the monitoring
job's first pass, then checks the two reads agree and times them over the pages' periods, just after the bulk
load and again once the database has statistics (``ANALYZE``): a page's time moves with the shared machine's
load, the ratio of these two much less.

    python scripts/labels_timing.py [--decisions N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from parcelguard.bench_pages import postgres_store, register_champion, seed_store, sqlite_settings
from parcelguard.config import Settings
from scoring.db import make_engine
from scoring.monitoring import job
from scoring.store import Store
from scoring.store.aggregates import HourLabels

PERIODS = {"8 weeks (week view)": timedelta(weeks=8), "14 days (hour export)": timedelta(days=14),
           "181 days (day export)": timedelta(days=181), "2 days (hour view)": timedelta(days=2)}


def _key(found: list[HourLabels]) -> dict[tuple[datetime, str], dict[str, float]]:
    return {(h.hour_start, h.hub_id): {k: round(v, 6) for k, v in asdict(h.sums).items()} for h in found}


def _median_s(read: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(settings: Settings, store: Store, decisions: int, rounds: int) -> None:
    register_champion(settings)
    seed_store(store, settings, decisions)
    job.run_once(settings, store, full=True)
    found = store.reads.time_range()
    assert found is not None
    until = found[1] + timedelta(seconds=1)
    _time(store, until, rounds, "just seeded")
    with store.engine.begin() as conn:  # what autovacuum does to a store some time after a bulk load
        conn.execute(text("ANALYZE"))
    _time(store, until, rounds, "analyzed")


def _time(store: Store, until: datetime, rounds: int, state: str) -> None:
    for name, span in PERIODS.items():
        since = (until - span).replace(minute=0, second=0, microsecond=0)
        folded, logged = store.aggregates.labels(since, until), store.aggregates.labels_from_log(since, until)
        same = _key(folded) == _key(logged)
        log_s = _median_s(lambda: store.aggregates.labels_from_log(since, until), rounds)  # noqa: B023
        folded_s = _median_s(lambda: store.aggregates.labels(since, until), rounds)  # noqa: B023
        print(f"{store.engine.dialect.name:10} {state:11} {name:22} log {log_s:6.3f} s  folded {folded_s:6.3f} s  "
              f"({len(folded)} hour rows, same sums: {same})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", help="also on this PostgreSQL URL (a private schema, dropped after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labels-timing-") as folder:
        settings = sqlite_settings(Path(folder) / "sqlite")
        store = Store(make_engine(settings.database_url))
        store.create_schema()
        measure(settings, store, args.decisions, args.rounds)
        if args.postgres:
            with postgres_store(args.postgres, Path(folder) / "postgres", prefix="labels") as (pg, pg_store):
                measure(pg, pg_store, args.decisions, args.rounds)


if __name__ == "__main__":
    main()
