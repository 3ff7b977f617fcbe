"""The ``parcelguard`` console script: every job behind one Typer app."""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from parcelguard import logs
from parcelguard.config import Settings, get_settings

if TYPE_CHECKING:
    from scoring.store import Store

app = typer.Typer(help="ParcelGuard: risk-based screening of inbound parcels.", no_args_is_help=True)
console = Console(stderr=True)
log = logging.getLogger("parcelguard")


def _store(settings: Settings) -> Store:
    # Imported here so that `parcelguard --help` stays fast.
    from scoring.db import make_engine
    from scoring.store import Store

    store = Store(make_engine(settings.database_url))
    store.create_schema()
    return store


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO") -> None:
    logs.setup(log_level.upper())


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder for manifests, truth and outcomes JSONL")] = Path("data/world"),
    days: int = 30,
    per_day: Annotated[int, typer.Option(help="parcels per day, all origins")] = 8000,
    seed: int = 7,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2026-10-01",
    new_pattern_day: Annotated[int | None, typer.Option(help="day a new trafficking pattern appears")] = None,
    shift_day: Annotated[int | None, typer.Option(help="day a benign feature shift starts")] = None,
) -> None:
    """Write a synthetic parcel world: manifests, ground truth, and outcomes of a fully screened history."""
    from training.generate import WorldConfig, write_world

    config = WorldConfig(days=days, parcels_per_day=per_day, start=date.fromisoformat(start), seed=seed,
                         new_pattern_day=new_pattern_day, shift_day=shift_day)
    with _progress() as progress:
        task = progress.add_task("generating parcels", total=days * per_day)
        files = write_world(config, out, lambda n: progress.update(task, completed=n))
    console.print(f"manifests: {files.manifests}\ntruth: {files.truth}\noutcomes: {files.outcomes}")


@app.command()
def train(
    manifests: Annotated[Path | None, typer.Option(help="labelled history: manifest JSONL")] = None,
    outcomes: Annotated[Path | None, typer.Option(help="labelled history: outcomes JSONL")] = None,
    from_log: Annotated[bool, typer.Option(help="train on the decision log and recorded outcomes")] = False,
) -> None:
    """Train, log to MLflow, register, and promote to champion if the model beats the current one."""
    from training import pipeline

    settings = get_settings()
    store = _store(settings)
    if from_log or manifests is None:
        result = pipeline.retrain(settings, store, manifests, outcomes)
    else:
        if outcomes is None:
            raise typer.BadParameter("--manifests needs --outcomes")
        with _progress() as progress:
            task = progress.add_task("replaying history", total=None)
            result = pipeline.bootstrap(settings, store, manifests, outcomes,
                                        lambda n: progress.update(task, completed=n))
    c = result.comparison
    console.print(f"registered {settings.model_name} version {c.challenger_version}; "
                  f"{'PROMOTED to champion' if c.promoted else 'kept as challenger'}: {c.reason}")
    console.print_json(orjson.dumps({k: round(v, 4) for k, v in result.train.metrics.items()}).decode())


@app.command()
def score(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers")] = None,
    group: Annotated[str | None, typer.Option(help="consumer group")] = None,
) -> None:
    """Run the streaming scorer: parcel.manifests in, parcel.decisions out."""
    from models import registry
    from scoring.engine import ModelSource, Scorer
    from streams import clients
    from streams.scorer import StreamScorer

    settings = get_settings()
    store = _store(settings)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    servers = bootstrap or settings.kafka_bootstrap
    clients.ensure_topics(servers, settings.partitions)
    scorer = Scorer(settings, store, ModelSource(settings.model_name))
    stream = StreamScorer(scorer, store, servers, group or settings.consumer_group,
                          max_manifest_bytes=settings.max_manifest_bytes)
    signal.signal(signal.SIGTERM, lambda *_: stream.stop())
    try:
        stream.run()
    except KeyboardInterrupt:
        stream.stop()


@app.command("score-file")
def score_file(
    manifests: Annotated[Path, typer.Argument(help="manifest JSONL")],
    out: Annotated[Path, typer.Option(help="decisions JSONL")],
    record: Annotated[bool, typer.Option(help="also record decisions in the store (a backfill)")] = False,
) -> None:
    """Score a manifest file through the same code path as the stream; one decision per input line."""
    from models import registry
    from scoring.engine import ModelSource, Scorer
    from streams.validate import Rejected, parse_manifest

    settings = get_settings()
    store = _store(settings)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    models = ModelSource(settings.model_name, shadow=False)
    scorer = Scorer(settings, store, models, persist=record, cache_history=not record)
    scorer.refresh_model(force=True)
    rejected = 0
    with manifests.open("rb") as source, out.open("wb") as sink:
        batch: list[tuple[object, dict[str, object]]] = []

        def flush() -> None:
            for decision in scorer.process(batch):  # type: ignore[arg-type]
                sink.write(decision.model_dump_json().encode() + b"\n")
            batch.clear()

        for line_number, line in enumerate(source, 1):
            if not line.strip():
                continue
            parsed = parse_manifest(line.strip(), settings.max_manifest_bytes)
            if isinstance(parsed, Rejected):
                rejected += 1
                flush()
                sink.write(orjson.dumps({"line": line_number, "error": parsed.reason}) + b"\n")
                continue
            batch.append(parsed)
            if len(batch) >= 2000:
                flush()
        flush()
    console.print(f"decisions written to {out}" + (f"; {rejected} invalid line(s) reported inline" if rejected else ""))


@app.command()
def produce(
    manifests: Annotated[Path, typer.Argument(help="manifest JSONL to replay")],
    rate: Annotated[float | None, typer.Option(help="messages per second (default: as fast as possible)")] = None,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers")] = None,
) -> None:
    """Replay a manifest file into parcel.manifests, as a hub would."""
    from streams import clients
    from streams.produce import publish

    settings = get_settings()
    servers = bootstrap or settings.kafka_bootstrap
    clients.ensure_topics(servers, settings.partitions)
    lines = (line.strip() for line in manifests.open("rb") if line.strip())
    sent = publish(servers, lines, rate)
    console.print(f"published {sent} manifests to {servers}")


@app.command()
def outcomes(bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers")] = None) -> None:
    """Consume screening outcomes from parcel.outcomes into the store."""
    from streams.outcomes import OutcomeConsumer

    settings = get_settings()
    consumer = OutcomeConsumer(_store(settings), bootstrap or settings.kafka_bootstrap)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    try:
        consumer.run()
    except KeyboardInterrupt:
        consumer.stop()


@app.command()
def serve(host: str | None = None, port: int | None = None) -> None:
    """Run the HTTP API and the screening pages."""
    import uvicorn

    from scoring.api.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings, _store(settings)), host=host or settings.api_host,
                port=port or settings.api_port, log_level="warning")


@app.command()
def broker(port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 19092) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory storage) until Ctrl-C."""
    from streams.broker import EmbeddedBroker

    with EmbeddedBroker(port=port) as running:
        console.print(f"broker listening on {running.bootstrap}; Ctrl-C stops it")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()


@app.command("add-key")
def add_key(
    name: str,
    role: Annotated[str, typer.Option(help="hub, screener, analyst or admin")],
    hub: Annotated[str | None, typer.Option(help="the hub a screener or hub key is limited to")] = None,
) -> None:
    """Issue an API key; only its hash is stored, so it is printed once."""
    from scoring.api.deps import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(24)
    _store(get_settings()).add_api_key(name, role, token, hub)
    sys.stdout.write(token + "\n")


@app.command()
def up(
    rate: Annotated[float, typer.Option(help="live manifests per second fed to the scorer")] = 40.0,
    history_days: int = 28,
    per_day: int = 6000,
) -> None:
    """Run everything on embedded defaults: broker, registry, first model, scorer, API and a live feed."""
    from parcelguard.up import run_all

    run_all(get_settings(), console, rate=rate, history_days=history_days, per_day=per_day)


if __name__ == "__main__":
    app()
