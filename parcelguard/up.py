"""``parcelguard up``: the whole service on embedded defaults in one process, stopped by Ctrl-C.

Starts the Tansu broker (in its own session, so a terminal's Ctrl-C reaches only this process), points
MLflow at a SQLite registry under the data folder, trains a first champion from a generated labelled history
when the registry has none, then runs the scorer, the outcome consumer, the API, a live feed of generated
manifests paced on the demo clock (``parcelguard.demo.clock``), one simulated X-ray station per hub, a
retraining loop and the monitoring job (``scoring.monitoring.job``), each on its own thread. Ctrl-C or SIGTERM
stops them in the reverse order of the data's path (feed, stations, retraining, monitoring, scorer, outcome
consumer, API) and the broker last.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlparse

import uvicorn
from rich.console import Console

from models import registry
from parcelguard.config import DEV_HASH_KEY, MAKE_A_KEY, Settings
from parcelguard.demo import clock as demo_clock
from parcelguard.demo import hubs as demo_hubs
from parcelguard.demo.feed import WORLD_DAYS, FeedCursor, LiveFeed, TruthBook
from parcelguard.demo.keys import DemoKey, ensure_keys
from parcelguard.demo.retraining import retrain_loop
from parcelguard.demo.stations import XrayStation
from scoring import hubs
from scoring.api.app import create_app
from scoring.api.routes_health import metrics_registry
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.monitoring import job as monitoring_job
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.metrics import ScorerMetrics
from streams.outcomes import OutcomeConsumer
from streams.produce import publish
from streams.scorer import StreamScorer
from training import pipeline
from training.world.generate import WorldConfig, generate, write_world

log = logging.getLogger(__name__)
# The monitoring and retraining threads load models from the registry; MLflow's download bars would
# interleave with the demo's console lines on every load.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
STOP_BUDGET_S = 4.0  # all threads together; the broker then gets what is left of the 5 s a user waits
RETRAIN_WORLD_HOURS = 6.0  # the demo retrains every six world hours...
RETRAIN_MIN_S = 300.0  # ...but not more often than every five minutes, training takes a minute on two cores
RETRAIN_MIN_LABELS = 10
STATUS_EVERY_S = 10.0
MONITOR_EVERY_S = 30.0  # the monitoring job's passes (the demo's clock runs fast: windows close often)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float = 1.0
    history_days: int = 28
    per_day: int = 6000
    retrain_every_s: float | None = None  # None: six world hours, at least five minutes


@dataclass
class _Part:
    """A running piece of the demo: how to ask it to stop and the thread to wait for."""

    name: str
    stop: Callable[[], None]
    thread: threading.Thread | None = None


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    def guarded() -> None:
        try:
            target()
        except Exception as exc:  # one line for the user; the full story goes to the log at debug level
            log.error("demo part stopped on an error", extra={"part": name, "error": f"{type(exc).__name__}: {exc}"})
            log.debug("demo part failure", exc_info=True)

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def _key_warning(settings: Settings) -> str:
    """The development hash key is in the repository: hashes made with it can be reversed (a phone in 1.3 s)."""
    if settings.hash_key.get_secret_value() != DEV_HASH_KEY:
        return ""
    return ("[bold yellow]  hash key:    the public development key: anyone can reverse these hashes "
            f"(a phone in 1.3 s); fake data only. For real data set PARCELGUARD_HASH_KEY; {MAKE_A_KEY}[/]\n")


def _feed(bootstrap: str, feed: LiveFeed, stop: threading.Event) -> None:
    publish(bootstrap, feed, stop=stop.is_set)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # a service manager's SIGTERM stops everything as cleanly as Ctrl-C


def _stop_all(parts: list[_Part], broker: EmbeddedBroker, console: Console) -> None:
    # From here every Kafka client is being closed on purpose; kafka-python's IO thread can still log a
    # race on a socket we just closed (an AttributeError in _sock_recv), which is not a fault worth a traceback.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    ended = broker.process.poll() if broker.process is not None else None
    if ended is not None:  # it should be the last to go: say so rather than let clients time out in silence
        console.print(f"[red]the broker had already ended (exit code {ended}) before the other parts stopped[/]")
    begun = time.monotonic()
    deadline = begun + STOP_BUDGET_S
    took: list[str] = []
    for part in parts:
        started = time.monotonic()
        part.stop()
        if part.thread is not None:
            part.thread.join(timeout=max(0.1, deadline - time.monotonic()))
            if part.thread.is_alive():
                console.print(f"  {part.name} did not stop in time; left to end with the process")
        took.append(f"{part.name} {time.monotonic() - started:.1f}")
    started = time.monotonic()
    broker.stop()
    took.append(f"broker {time.monotonic() - started:.1f}")
    console.print(f"stopped in {time.monotonic() - begun:.1f} s ({', '.join(took)})")


def _first_champion(settings: Settings, store: Store, console: Console, options: DemoOptions) -> None:
    console.print("no champion in the registry: training one from a generated, fully screened history")
    with console.status("generating the labelled history…"):
        world = WorldConfig(days=options.history_days, parcels_per_day=options.per_day)
        files = write_world(world, settings.data_dir / "world")
    with console.status("replaying the history and training…"):
        result = pipeline.bootstrap(settings, store, files.manifests, files.outcomes)
    metrics = result.train.metrics
    console.print(f"champion: version {result.comparison.challenger_version}, recall at "
                  f"{settings.capacity_share:.0%} capacity {metrics['recall_at_capacity']:.2%} on the held-out period")


def _banner(console: Console, settings: Settings, clock: demo_clock.DemoClock, capacities: dict[str, int],
            keys: list[DemoKey], retrain_every_s: float) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    console.print(
        f"\n[bold green]ParcelGuard is running.[/] Clock: {clock.describe()}; about "
        f"{clock.manifests_per_second:.2f} manifests/s on average (busier by day). Timestamps are the wall clock.\n"
        "  X-ray capacity per hour (simulated stations work each hub's queue at it): "
        + ", ".join(f"{hub} {n}" for hub, n in capacities.items())
        + f"\n  retraining every {retrain_every_s / 60:.0f} min when at least {RETRAIN_MIN_LABELS} new labels\n"
        f"  queue page:  {base}/  (sign in with a key below)\n"
        + "".join(f"  {key.role:<8} key{'' if key.hub_id is None else ' ' + key.hub_id}: {key.key}\n" for key in keys)
        + f"  (kept in {settings.data_dir / 'demo-keys.json'}, mode 0600; printed again at every start)\n"
        f"  health:      {base}/health\n  API docs:    {base}/docs\n"
        + _key_warning(settings) + "Ctrl-C stops everything."
    )


def exit_at_once(code: int = 0) -> NoReturn:
    """End the process once ``run_all`` has stopped every part in order.

    Everything is committed and closed by then; what is left is the interpreter tearing down MLflow, pandas
    and LightGBM modules, which takes seconds on a loaded machine and is what made Ctrl-C feel slow."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_all(settings: Settings, console: Console, options: DemoOptions) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started from a shell that ignores it (``up &``)
    clock = demo_clock.DemoClock(options.speed, options.per_day)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    demo_dir = settings.data_dir / "demo"
    demo_dir.mkdir(exist_ok=True)
    first_day = [m for m, _ in generate(WorldConfig(days=1, parcels_per_day=options.per_day))]
    in_scope = demo_clock.in_scope_per_day(first_day, settings.priority_origins, settings.destinations)
    capacities = {**demo_clock.hub_capacities(in_scope, settings.capacity_share, clock.speed),
                  **settings.hub_capacity_per_hour}  # an operator's figures win over the demo's
    update: dict[str, object] = {"hub_capacity_per_hour": capacities}
    if "burst_hours" not in settings.model_fields_set:  # the queue carries a world day of capacity, not 600 days
        update["burst_hours"] = settings.burst_hours / clock.speed
    settings = settings.model_copy(update=update)
    retrain_every_s = options.retrain_every_s or max(RETRAIN_MIN_S, RETRAIN_WORLD_HOURS * 3600 / clock.speed)

    store = Store(make_engine(settings.database_url))
    store.create_schema()
    hubs.load_config(store, settings)
    demo_hubs.register(store, capacities)  # before the keys: a screener key names a registered hub
    port = int(urlparse(f"//{settings.kafka_bootstrap}").port or 19092)
    broker = EmbeddedBroker(port=port, log_path=settings.data_dir / "broker.log").start()
    parts: list[_Part] = []
    try:
        console.print(f"[bold]broker[/] Tansu on {broker.bootstrap}")
        clients.ensure_topics(broker.bootstrap, settings.partitions)
        registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
        console.print(f"[bold]registry[/] MLflow at {settings.mlflow_tracking_uri}")
        if registry.alias_version(settings.model_name, "champion") is None:
            _first_champion(settings, store, console, options)

        api = create_app(settings, store, warm_analyst=True)
        scorer_metrics = ScorerMetrics(metrics_registry(api))  # one process: the API's /metrics shows the scorer too
        scorer = StreamScorer(Scorer(settings, store, ModelSource(settings.model_name)), store, broker.bootstrap,
                              settings.consumer_group, max_manifest_bytes=settings.max_manifest_bytes,
                              on_committed=scorer_metrics.committed)
        scorer_metrics.attach(scorer)
        outcome_consumer = OutcomeConsumer(store, broker.bootstrap)
        server = uvicorn.Server(uvicorn.Config(api, host=settings.api_host, port=settings.api_port,
                                               log_level="warning"))
        truth = TruthBook(demo_dir / "truth.txt")
        stop_feed, stop_stations, stop_training = threading.Event(), threading.Event(), threading.Event()
        stop_monitoring = threading.Event()
        feed = LiveFeed(WorldConfig(days=options.history_days + WORLD_DAYS, parcels_per_day=options.per_day),
                        options.history_days, clock, FeedCursor(demo_dir / "feed-cursor.json"), truth, stop_feed)
        stations = [XrayStation(store, hub, capacity, truth, stop_stations) for hub, capacity in capacities.items()]

        # Started downstream first, stopped upstream first: nothing is produced for a part already stopped.
        parts = [
            _Part("feed", stop_feed.set),
            *[_Part(f"station {s.hub_id}", stop_stations.set) for s in stations],
            _Part("retraining", stop_training.set),
            _Part("monitoring", stop_monitoring.set),
            _Part("scorer", scorer.stop),
            _Part("outcome consumer", outcome_consumer.stop),
            _Part("API", lambda: setattr(server, "should_exit", True)),
        ]
        by_name = {part.name: part for part in parts}
        by_name["API"].thread = _thread("api", server.run)
        by_name["outcome consumer"].thread = _thread("outcomes", outcome_consumer.run)
        by_name["scorer"].thread = _thread("scorer", scorer.run)
        by_name["retraining"].thread = _thread("retraining", lambda: retrain_loop(
            settings, store, retrain_every_s, RETRAIN_MIN_LABELS, stop_training,
            lambda line: console.print(f"[bold]retraining[/] {line}")))
        # Folds the log into the aggregates the analyst pages read, and judges each closed window once.
        by_name["monitoring"].thread = _thread("monitoring", lambda: monitoring_job.run_forever(
            settings, store, stop_monitoring, MONITOR_EVERY_S))
        for station in stations:
            by_name[f"station {station.hub_id}"].thread = _thread(f"xray-{station.hub_id}", station.run)
        by_name["feed"].thread = _thread("feed", lambda: _feed(broker.bootstrap, feed, stop_feed))

        keys = ensure_keys(store, settings.data_dir / "demo-keys.json", sorted(capacities))
        _banner(console, settings, clock, capacities, keys, retrain_every_s)
        while True:
            time.sleep(STATUS_EVERY_S)
            counters = scorer.counters
            screened = sum(s.counts.screened for s in stations)
            found = sum(s.counts.contraband for s in stations)
            console.print(f"fed {feed.sent}; decided {counters.decided} {dict(counters.by_action)}; "
                          f"simulated X-ray screened {screened}, contraband {found}; "
                          f"dead-lettered {counters.dead_lettered}")
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        _stop_all(parts, broker, console)
