"""``parcelguard up``: the whole service on embedded defaults in one process, stopped by Ctrl-C.

Starts the Tansu broker, points MLflow at a SQLite registry under the data folder, trains a first
champion from a generated labelled history when the registry has none, then runs the scorer, the
outcome consumer, the API and a generated live feed of manifests, each on its own thread.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable
from urllib.parse import urlparse

import uvicorn
from rich.console import Console

from models import registry
from parcelguard.config import DEV_HASH_KEY, MAKE_A_KEY, Settings
from scoring.api.app import create_app
from scoring.api.routes_health import metrics_registry
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams import clients
from streams.broker import EmbeddedBroker
from streams.metrics import ScorerMetrics
from streams.outcomes import OutcomeConsumer
from streams.produce import publish
from streams.scorer import StreamScorer
from training import pipeline
from training.world.generate import WorldConfig, generate, write_world

LIVE_DAYS = 60


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _key_warning(settings: Settings) -> str:
    """The development hash key is in the repository: hashes made with it can be reversed (a phone in 1.3 s)."""
    if settings.hash_key.get_secret_value() != DEV_HASH_KEY:
        return ""
    return ("[bold yellow]  hash key:    the public development key: anyone can reverse these hashes "
            f"(a phone in 1.3 s); fake data only. For real data set PARCELGUARD_HASH_KEY; {MAKE_A_KEY}[/]\n")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # a service manager's SIGTERM stops everything as cleanly as Ctrl-C


def run_all(settings: Settings, console: Console, *, rate: float, history_days: int, per_day: int) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(make_engine(settings.database_url))
    store.create_schema()
    port = int(urlparse(f"//{settings.kafka_bootstrap}").port or 19092)
    broker = EmbeddedBroker(port=port, log_path=settings.data_dir / "broker.log").start()
    stoppers: list[Callable[[], None]] = []
    threads: list[threading.Thread] = []
    try:
        console.print(f"[bold]broker[/] Tansu on {broker.bootstrap}")
        clients.ensure_topics(broker.bootstrap, settings.partitions)
        registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
        console.print(f"[bold]registry[/] MLflow at {settings.mlflow_tracking_uri}")
        if registry.alias_version(settings.model_name, "champion") is None:
            console.print("no champion in the registry: training one from a generated, fully screened history")
            with console.status("generating the labelled history…"):
                world = WorldConfig(days=history_days, parcels_per_day=per_day)
                files = write_world(world, settings.data_dir / "world")
            with console.status("replaying the history and training…"):
                result = pipeline.bootstrap(settings, store, files.manifests, files.outcomes)
            metrics = result.train.metrics
            console.print(f"champion: version {result.comparison.challenger_version}, recall at "
                          f"{settings.capacity_share:.0%} capacity {metrics['recall_at_capacity']:.2%} "
                          "on the held-out period")

        models = ModelSource(settings.model_name)
        api = create_app(settings, store)
        scorer_metrics = ScorerMetrics(metrics_registry(api))  # one process: the API's /metrics shows the scorer too
        scorer = StreamScorer(Scorer(settings, store, models), store, broker.bootstrap, settings.consumer_group,
                              max_manifest_bytes=settings.max_manifest_bytes, on_committed=scorer_metrics.committed)
        scorer_metrics.attach(scorer)
        outcome_consumer = OutcomeConsumer(store, broker.bootstrap)
        server = uvicorn.Server(uvicorn.Config(api, host=settings.api_host, port=settings.api_port,
                                               log_level="warning"))
        stop_feed = threading.Event()
        stoppers += [stop_feed.set, scorer.stop, outcome_consumer.stop, lambda: setattr(server, "should_exit", True)]

        def feed() -> None:
            live = (m for m, truth in generate(WorldConfig(days=history_days + LIVE_DAYS, parcels_per_day=per_day))
                    if truth["day"] >= history_days)
            publish(broker.bootstrap, live, rate=rate, stop=stop_feed.is_set)

        threads += [_thread("scorer", scorer.run), _thread("outcomes", outcome_consumer.run),
                    _thread("api", server.run), _thread("feed", feed)]
        hubs = ("HAK-MEILAN", "HAK-XIUYING", "SYX-TIANYA")
        token = secrets.token_urlsafe(18)
        for hub in hubs:
            store.access.add_key(f"demo-screener-{hub}", "screener", f"{token}-{hub}", hub)
        base = f"http://{settings.api_host}:{settings.api_port}"
        console.print(f"\n[bold green]ParcelGuard is running.[/] Feeding {rate:.0f} manifests/s.\n"
                      f"  queue page:  {base}/  (sign in with the key below)\n"
                      + "".join(f"  {hub} screener key: {token}-{hub}\n" for hub in hubs)
                      + f"  health:      {base}/health\n  API docs:    {base}/docs\n"
                      + _key_warning(settings) + "Ctrl-C stops everything.")
        last = 0
        while True:
            time.sleep(5)
            decided = scorer.counters.decided
            console.print(f"decided {decided} (+{decided - last}); decisions by action and reason: "
                          f"{dict(scorer.counters.by_action)}; dead-lettered {scorer.counters.dead_lettered}")
            last = decided
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        for stop in stoppers:
            stop()
        for thread in threads:
            thread.join(timeout=15)
        broker.stop()
        console.print("stopped.")
