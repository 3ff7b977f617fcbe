"""The ``parcelguard`` console script: every job behind one Typer app.

Over 400 lines because it holds one thin command per job (about twenty); each imports its work lazily from
the layers below, so ``--help`` stays fast and the work lives where the Layout section of the README says.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import secrets
import signal
import sys
import threading
from datetime import date, datetime, time
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
    from scoring import hubs
    from scoring.db import make_engine
    from scoring.store import Store

    store = Store(make_engine(settings.database_url))
    store.create_schema()
    hubs.load_config(store, settings)  # PARCELGUARD_HUBS: every service sees the configured hubs from its start
    return store


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@app.callback()
def main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING", envvar="PARCELGUARD_LOG_LEVEL")] = "INFO",
) -> None:
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
    pattern: Annotated[str | None, typer.Option(
        help="kind of new pattern: ring, route, cover, rotation, hub_mix (needs --new-pattern-day)")] = None,
) -> None:
    """Write a synthetic parcel world: manifests, ground truth, and outcomes of a fully screened history."""
    from training.world.generate import WorldConfig, write_world
    from training.world.patterns import PATTERN_KINDS

    if pattern is not None and (pattern not in PATTERN_KINDS or new_pattern_day is None):
        raise typer.BadParameter(f"--pattern is one of {', '.join(PATTERN_KINDS)}, with --new-pattern-day")
    config = WorldConfig(days=days, parcels_per_day=per_day, start=date.fromisoformat(start), seed=seed,
                         new_pattern_day=new_pattern_day, shift_day=shift_day, pattern=pattern)
    with _progress() as progress:
        task = progress.add_task("generating parcels", total=days * per_day)
        files = write_world(config, out, lambda n: progress.update(task, completed=n))
    console.print(f"manifests: {files.manifests}\ntruth: {files.truth}\noutcomes: {files.outcomes}")


@app.command()
def train(
    manifests: Annotated[Path | None, typer.Option(help="labelled history: manifest JSONL")] = None,
    outcomes: Annotated[Path | None, typer.Option(help="labelled history: outcomes JSONL")] = None,
    from_log: Annotated[bool, typer.Option(help="train on the decision log and recorded outcomes")] = False,
    every: Annotated[str | None, typer.Option(help="retrain from the log in a loop, e.g. 6h, 30m, 1d")] = None,
    min_new_labels: Annotated[int, typer.Option(help="skip a retraining with fewer new labels than this")] = 0,
    window_days: Annotated[float | None, typer.Option(help="train on the last N days of the log only")] = None,
    field_types: Annotated[Path | None, typer.Option(help="JSON {field: numeric|categorical|identifier|drop} "
                                                          "overriding the types inferred from --manifests")] = None,
) -> None:
    """Train, log to MLflow, register, and promote to champion if the model beats the current one.

    Safe while scorers run (they pick the new champion up from the registry). As a cron one-shot, use
    --from-log --min-new-labels N; as a loop, --every 6h (stops cleanly on Ctrl-C or SIGTERM).
    """
    from training import pipeline
    from training.calibration import CalibrationOff
    from training.train import NotEnoughLabels

    settings = get_settings()
    store = _store(settings)

    def report(result: pipeline.JobResult) -> None:
        c = result.comparison
        console.print(f"registered {settings.model_name} version {c.challenger_version}; "
                      f"{'PROMOTED to champion' if c.promoted else 'kept as challenger'}: {c.reason}")
        console.print_json(orjson.dumps({k: round(v, 4) for k, v in result.train.metrics.items()}).decode())

    if every is not None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        console.print(f"retraining every {every} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            pipeline.run_scheduled(settings, store, _seconds(every), stop, min_new_labels, window_days, report)
        return
    try:
        if from_log or manifests is None:
            if min_new_labels and (fresh := pipeline.new_labels_since_last_run(settings, store)) < min_new_labels:
                console.print(f"skipped: {fresh} new label(s) since the last model, fewer than {min_new_labels}")
                return
            result = pipeline.retrain(settings, store, manifests, outcomes, window_days=window_days)
        else:
            if outcomes is None:
                raise typer.BadParameter("--manifests needs --outcomes")
            with _progress() as progress:
                task = progress.add_task("replaying history", total=None)
                result = pipeline.bootstrap(settings, store, manifests, outcomes,
                                            lambda n: progress.update(task, completed=n), field_types)
    except pipeline.TrainingBusy as exc:
        console.print(f"skipped: {exc}")
        return
    except NotEnoughLabels as exc:
        console.print(f"[red]not enough labels to train:[/red] {exc}")
        raise typer.Exit(1) from exc
    except CalibrationOff as exc:
        console.print(f"[red]model not registered:[/red] {exc}")
        raise typer.Exit(1) from exc
    report(result)


def _seconds(duration: str) -> float:
    """``90``, ``30m``, ``6h`` or ``1d`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = duration.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{duration!r} is not a duration like 90, 30m, 6h or 1d") from exc
    if value <= 0:
        raise typer.BadParameter("the interval must be positive")
    return value


@app.command()
def simulate(
    days: int = 40,
    per_day: Annotated[int, typer.Option(help="parcels per day, all origins")] = 4000,
    history_days: Annotated[int, typer.Option(help="fully screened days the first model learns from")] = 14,
    capacity: Annotated[float, typer.Option(help="share of in-scope parcels screened")] = 0.05,
    exploration: Annotated[float | None, typer.Option(help="share of the budget explored (default: settings)")] = None,
    new_pattern_day: Annotated[int | None, typer.Option(
        help="simulated day the new pattern starts; -1 for none (default: 15, or a replayed world's truth)")] = None,
    pattern: Annotated[list[str] | None, typer.Option(
        help="kind of new pattern (ring, route, cover, rotation, hub_mix); repeat it to compare kinds")] = None,
    score_explore: Annotated[bool, typer.Option(
        help="also run the system with the previous score-weighted exploration, to compare")] = False,
    retrain_every: Annotated[int, typer.Option(help="days between retrainings")] = 3,
    late_labels: Annotated[float, typer.Option(help="share of released contraband found later")] = 0.0,
    seed: Annotated[list[int] | None, typer.Option(
        help="world seed (default 7); repeat it to run several worlds and compare the arms across them")] = None,
    jobs: Annotated[int, typer.Option(help="with several seeds: how many run at once, one process each")] = 1,
    manifests: Annotated[Path | None, typer.Option(help="replay a recorded world: manifest JSONL")] = None,
    truth: Annotated[Path | None, typer.Option(help="its ground truth JSONL (parcel_id, label, p)")] = None,
    out: Annotated[Path, typer.Option(help="folder for simulation.json, .png and .md")] = Path("data/simulation"),
    keep_logs: Annotated[bool, typer.Option(help="keep each arm's decision log (SQLite) under OUT/logs")] = False,
) -> None:
    """Closed loop over N days: the real scorer under capacity, outcomes, retraining, a new pattern;
    compared with exploration off, rules only, random and screening every priority-origin parcel."""
    from training.simulation import kinds as simulation_kinds
    from training.simulation import report as simulation_report
    from training.simulation import seeds as simulation_seeds
    from training.simulation import simulate as sim
    from training.world.patterns import PATTERN_KINDS

    settings = get_settings()
    seeds = list(dict.fromkeys(seed or [7]))
    if (manifests is None) != (truth is None):
        raise typer.BadParameter("--manifests and --truth go together")
    if manifests is not None and len(seeds) > 1:
        raise typer.BadParameter("a recorded world is one world: give --seed once, or not at all")
    if jobs < 1:
        raise typer.BadParameter("--jobs must be at least 1")
    kinds = list(dict.fromkeys(pattern or ["ring"]))
    if manifests is not None and pattern:
        raise typer.BadParameter("a recorded world brings its own new pattern: --pattern is for generated worlds")
    if unknown := [k for k in kinds if k not in PATTERN_KINDS]:
        raise typer.BadParameter(f"unknown --pattern {', '.join(unknown)}: choose from {', '.join(PATTERN_KINDS)}")
    if new_pattern_day is None:  # a recorded world's comes from its truth file, never from this default
        new_pattern_day = None if manifests is not None else 15
    config = sim.SimConfig(
        days=days, parcels_per_day=per_day, history_days=history_days, capacity_share=capacity,
        exploration_share=settings.exploration_share if exploration is None else exploration,
        new_pattern_day=None if new_pattern_day is None or new_pattern_day < 0 else new_pattern_day,
        retrain_every=retrain_every, seed=seeds[0], late_label_share=late_labels,
        promotion_margin=settings.promotion_margin, pattern=kinds[0],
        arms=(*sim.ARMS, "score_explore") if score_explore else sim.ARMS,
    )
    if len(kinds) > 1 or (pattern and len(seeds) > 1):
        with _progress() as progress:
            task = progress.add_task(f"{len(kinds)} kinds × {len(seeds)} worlds, {jobs} at a time",
                                     total=len(kinds) * len(seeds))
            by_kind = simulation_kinds.run_kinds(settings, config, kinds, seeds, out, jobs, keep_logs,
                                                 done=lambda _: progress.advance(task))
        found = [simulation_kinds.targets(kind, by_kind[kind]) for kind in kinds]
        paths = simulation_kinds.write(found, by_kind, out)
        Console().print(simulation_kinds.rich_table(found))
        console.print(f"json: {paths['json']}\nmarkdown: {paths['markdown']}\neach world: {out}/KIND/seed-N/")
        return
    if len(seeds) > 1:
        with _progress() as progress:
            task = progress.add_task(f"{len(seeds)} worlds, {jobs} at a time", total=len(seeds))
            summaries = simulation_seeds.run_seeds(settings, config, seeds, out, jobs, keep_logs,
                                                   done=lambda _: progress.advance(task))
        combined = simulation_seeds.combine(summaries)
        paths = simulation_seeds.write(combined, out)
        Console().print(simulation_seeds.rich_table(combined))
        console.print(f"json: {paths['json']}\nmarkdown: {paths['markdown']}\neach world: {out}/seed-N/")
        return
    world = sim.recorded_days(manifests, truth) if manifests and truth else None
    with _progress() as progress:
        task = progress.add_task("bootstrap model", total=days)

        def advance(day: int, record: dict[str, object] | None) -> None:
            progress.update(task, completed=day + 1, description=f"day {day}" if record else "simulating")

        try:
            result = sim.run(settings, config, world, advance, source="recorded" if world else "generator",
                             workdir=out / "logs" if keep_logs else None)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    paths = simulation_report.write(result, out)
    Console().print(simulation_report.rich_table(result))
    console.print(f"json: {paths['json']}\nplot: {paths['png']}\nmarkdown: {paths['markdown']}")


@app.command("evaluate")
def evaluate_cmd(
    decisions: Annotated[Path | None, typer.Option(help="decisions JSONL from score-file")] = None,
    truth: Annotated[Path | None, typer.Option(help="ground truth JSONL (parcel_id, label, p)")] = None,
    outcomes: Annotated[Path | None, typer.Option(help="outcomes JSONL(.gz) of a fully screened period: "
                                                       "precision at 1/2/5/10% and recall at 5%")] = None,
    days: Annotated[float, typer.Option(help="without files: the latest N days of the decision log")] = 7.0,
    capacity: Annotated[float | None, typer.Option(help="capacity share (default: settings)")] = None,
) -> None:
    """Offline evaluation: a decision file against ground truth, or champion and challenger on the recent
    decision log (IPW-weighted, with the miss rate among released parcels and its 95% interval)."""
    from training import offline

    settings = get_settings()
    share = capacity or settings.capacity_share
    if (decisions is None) != (truth is None and outcomes is None):
        raise typer.BadParameter("--decisions goes with --truth or --outcomes")
    try:
        if decisions and outcomes:
            found = offline.decisions_vs_outcomes(decisions, outcomes)
        elif decisions and truth:
            found = offline.decisions_vs_truth(decisions, truth, share)
        else:
            found = offline.recent_log(settings, _store(settings), days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    sys.stdout.write(orjson.dumps(found, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


@app.command()
def score(
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap servers")] = None,
    group: Annotated[str | None, typer.Option(help="consumer group")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="serve /metrics, /livez and /readyz on this port")] = None,
) -> None:
    """Run the streaming scorer: parcel.manifests in, parcel.decisions out."""
    from models import registry
    from scoring.engine import ModelSource, Scorer
    from streams import clients
    from streams.collector import tune_gc_for_batches
    from streams.metrics import ScorerMetrics, serve_scorer
    from streams.scorer import StreamScorer

    settings = get_settings()
    store = _store(settings)
    try:
        registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    except Exception as exc:  # no registry: score in fail-safe (health says so) and keep asking for a model
        log.error("model registry unavailable at start; scoring fail-safe until it answers",
                  extra={"error": f"{type(exc).__name__}: {exc}"})
    servers = bootstrap or settings.kafka_bootstrap
    clients.ensure_topics(servers, settings.partitions)
    scorer = Scorer(settings, store, ModelSource(settings.model_name))
    port = metrics_port if metrics_port is not None else settings.metrics_port
    metrics = ScorerMetrics() if port is not None else None
    stream = StreamScorer(scorer, store, servers, group or settings.consumer_group,
                          max_manifest_bytes=settings.max_manifest_bytes,
                          on_committed=metrics.committed if metrics is not None else None)
    if port is not None and metrics is not None:
        serve_scorer(stream, metrics, settings.metrics_host, port)  # a daemon thread: it ends with the process
    signal.signal(signal.SIGTERM, lambda *_: stream.stop())
    tune_gc_for_batches()  # this process runs one scorer: start-up's objects need no rescanning
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
    """Score a manifest file through the same code path as the stream; one decision per input line. A line
    that cannot be scored (invalid, or a hub the non-empty hub registry does not list) is reported inline."""
    from collections import Counter

    from models import registry
    from scoring.engine import ModelSource, Scorer
    from scoring.hubs import RegistryCache
    from streams.validate import Rejected, parse_manifest, registered

    settings = get_settings()
    store = _store(settings)
    registry.configure(settings.mlflow_tracking_uri, settings.data_dir)
    models = ModelSource(settings.model_name, shadow=False)
    scorer = Scorer(settings, store, models, persist=record, cache_history=not record)
    scorer.refresh_model(force=True)
    hub_registry = RegistryCache(store)  # as the stream checks hubs: an empty registry accepts every hub
    rejected: Counter[str] = Counter()
    with (gzip.open(manifests, "rb") if manifests.suffix == ".gz" else manifests.open("rb")) as source, \
            out.open("wb") as sink:
        batch: list[tuple[object, dict[str, object]]] = []

        def flush() -> None:
            for decision in scorer.process(batch):  # type: ignore[arg-type]
                sink.write(decision.model_dump_json().encode() + b"\n")
            batch.clear()

        for line_number, line in enumerate(source, 1):
            if not line.strip():
                continue
            parsed = registered(parse_manifest(line.strip(), settings.max_manifest_bytes), hub_registry.accepts)
            if isinstance(parsed, Rejected):
                rejected[parsed.code] += 1
                flush()
                sink.write(orjson.dumps({"line": line_number, "code": parsed.code, "error": parsed.reason}) + b"\n")
                continue
            batch.append(parsed)
            if len(batch) >= 2000:
                flush()
        flush()
    why = ", ".join(f"{n} {code}" for code, n in rejected.most_common())
    console.print(f"decisions written to {out}" + (f"; {rejected.total()} line(s) rejected and reported inline "
                                                   f"({why})" if rejected else ""))


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema migration (every service also does this when it starts)."""
    from scoring import migrations
    from scoring.db import make_engine

    engine = make_engine(get_settings().database_url)
    migrations.upgrade(engine)
    console.print(f"database schema at migration {migrations.current(engine)} (newest: {migrations.head()})")


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
    # log_config=None: uvicorn's own messages go through the JSON logging set up above, not its text format.
    uvicorn.run(create_app(settings, _store(settings), warm_analyst=True), host=host or settings.api_host,
                port=port or settings.api_port, log_level="warning", log_config=None)


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 19092,
    durable: Annotated[bool, typer.Option(help="keep topics and offsets on disk (Tansu on S3 in s3rver)")] = False,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu; memory storage, or durable) until Ctrl-C."""
    from streams.broker import EmbeddedBroker, durable_broker

    settings = get_settings()
    embedded = durable_broker(settings.data_dir / "broker", port, settings.data_dir / "broker.log") if durable \
        else EmbeddedBroker(port=port)
    with embedded as running:
        where = f"; data in {settings.data_dir / 'broker'}" if durable else " (memory: lost on stop)"
        console.print(f"broker listening on {running.bootstrap}{where}; Ctrl-C stops it")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()


@app.command()
def drift(
    out: Annotated[Path | None, typer.Option(help="folder for the HTML and JSON report "
                                                  "(default: reports/ under PARCELGUARD_DATA_DIR)")] = None,
    granularity: Annotated[str, typer.Option(help="hour, day or week windows")] = "day",
    since: Annotated[str | None, typer.Option(help="period start, YYYY-MM-DD (China time)")] = None,
    until: Annotated[str | None, typer.Option(help="period end, YYYY-MM-DD exclusive (default: last decision)")] = None,
    hub: Annotated[str | None, typer.Option(help="one hub only")] = None,
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="log beside each judged model")] = True,
) -> None:
    """Drift and performance per window, hub and model version: a monitoring pass, then HTML + JSON report, MLflow."""
    from scoring.monitoring import job, monitor

    if granularity not in monitor.GRANULARITIES:
        raise typer.BadParameter(f"--granularity must be one of {', '.join(monitor.GRANULARITIES)}")
    settings = get_settings()
    try:
        _built, done, html_path, json_path, runs = job.drift_report(
            settings, _store(settings), out or settings.data_dir / "reports", granularity, _local_day(since),
            _local_day(until), hub=hub, to_mlflow=mlflow_log)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    for alert in done.alerts:
        console.print(f"[{'red' if alert.severity == 'critical' else 'yellow'}]{alert.kind}[/]: {alert.message}")
    console.print(f"{done.new_alerts} new alert(s) from closed windows; report: {html_path}\njson: {json_path}"
                  + (f"\nMLflow run(s): {', '.join(runs)}" if runs else ""))


@app.command()
def monitor(
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
    full: Annotated[bool, typer.Option("--full", help="compare every hour of the log (backfill), not the "
                                                      "last two days")] = False,
    refold: Annotated[bool, typer.Option("--refold", help="with --once: refold every hour (after a registry "
                                                          "outage left hours without histograms)")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 60.0,
) -> None:
    """Fold new decisions into the hourly aggregates the analyst pages read, and judge each closed window once."""
    from scoring.monitoring import job

    settings = get_settings()
    store = _store(settings)
    if once:
        done = job.run_once(settings, store, full=full, refold=refold)
        judged = done.judged or "no new closed window"
        console.print(f"folded {done.folded.hours} hour(s), {done.folded.decisions} decision(s); judged {judged}; "
                      f"{done.new_alerts} new alert(s) in {done.seconds:.1f} s")
        return
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        job.run_forever(settings, store, stopped, interval)


def _local_day(value: str | None) -> datetime | None:
    """A YYYY-MM-DD option as the start of that day in China time (the hubs' clock)."""
    if value is None:
        return None
    from models.features import CHINA_TZ

    try:
        return datetime.combine(date.fromisoformat(value), time(), CHINA_TZ)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-10-14") from exc


@app.command()
def bench(
    json_out: Annotated[Path, typer.Option("--json", help="write the figures here as JSON")] = Path("bench.json"),
    manifests: Annotated[int, typer.Option(help="manifests for the throughput runs")] = 60_000,
    group_manifests: Annotated[int, typer.Option(help="manifests for the 1/2/3-scorer group runs")] = 30_000,
) -> None:
    """Benchmark the scorer against a bare Kafka consumer on embedded parts; print a table, write JSON."""
    from rich.table import Table

    from parcelguard.bench import as_json, benchmark, rows

    result = benchmark(total=manifests, group_total=group_manifests, say=lambda m: console.print(f"[dim]{m}[/]"))
    json_out.write_bytes(as_json(result))
    table = Table(title="parcelguard bench (2 shared cores: ±30% run to run; compare ratios)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    for measure, value, target in rows(result):
        table.add_row(measure, value, target)
    Console().print(table)
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"figures written to {json_out}")


@app.command("bench-pages")
def bench_pages(
    json_out: Annotated[Path, typer.Option("--json", help="write the figures here as JSON")] = Path("bench-pages.json"),
    decisions: Annotated[int, typer.Option(help="decisions to seed")] = 1_000_000,
    days: Annotated[int, typer.Option(help="days they span")] = 120,
    postgres: Annotated[str | None, typer.Option(help="also on this PostgreSQL URL (a private schema, dropped "
                                                      "after)")] = None,
) -> None:
    """Each analyst page's time at a seeded store (SQLite, and PostgreSQL when given); print a table, write JSON."""
    import tempfile

    from rich.table import Table

    from parcelguard.bench_pages import PagesResult, as_json, bench_pages, postgres_store, sqlite_settings
    from scoring.db import make_engine
    from scoring.store import Store

    results: list[PagesResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        say = lambda m: console.print(f"[dim]{m}[/]")  # noqa: E731
        settings = sqlite_settings(Path(folder) / "sqlite")
        store = Store(make_engine(settings.database_url))
        store.create_schema()
        results.append(bench_pages(settings, store, decisions, days, say=say))
        if postgres:
            with postgres_store(postgres, Path(folder) / "postgres") as (pg_settings, pg_store):
                results.append(bench_pages(pg_settings, pg_store, decisions, days, say=say))
    json_out.write_bytes(as_json(results))
    table = Table(title=f"analyst pages at {decisions:,} decisions over {days} days (seconds: first load in a fresh "
                        "API, once its warm-up is done / median of 3 more)")
    table.add_column("page")
    for r in results:
        table.add_column(r.backend, justify="right")
    for i, page in enumerate(results[0].pages):
        table.add_row(f"{page.page}  [dim]{page.path}[/]",
                      *(f"{r.pages[i].first_s:.2f} / {r.pages[i].median_s:.2f}" for r in results))
    table.add_row("the API's warm-up at start (registry, bins), s", *(f"{r.warm_up_s:.1f}" for r in results))
    table.add_row("seeding (bulk, one transaction)", *(f"{r.seed_s:.1f}" for r in results))
    table.add_row("monitoring job's first pass (backfill), decisions/s",
                  *(f"{r.fold_s:.1f} s; {r.fold_decisions_per_s:,.0f}/s" for r in results))
    Console().print(table)
    console.print(f"figures written to {json_out}")


@app.command()
def chaos(
    json_out: Annotated[Path, typer.Option("--json", help="write the results here as JSON")] = Path("chaos.json"),
    good_per_kind: Annotated[int, typer.Option(help="good manifests around each poison record")] = 40,
) -> None:
    """Send every poison kind mid-stream through a live scorer on a fresh embedded broker; print a table."""
    import tempfile

    from rich.table import Table

    from parcelguard.chaos import as_json, run_chaos
    from streams.broker import EmbeddedBroker

    settings = get_settings()
    store = _store(settings)
    postgres = store.engine.dialect.name == "postgresql"
    with tempfile.TemporaryDirectory() as scratch, EmbeddedBroker(log_path=Path(scratch) / "tansu.log") as running:
        results = run_chaos(settings, store, running.bootstrap, good_per_kind=good_per_kind, postgres=postgres,
                            say=lambda m: console.print(f"[dim]{m}[/]"))
    json_out.write_bytes(as_json(results))
    table = Table(title=f"parcelguard chaos on {store.engine.dialect.name}")
    for column in ("poison kind", "dead-lettered", "code", "good sent", "good decided", "lost", "decided twice"):
        table.add_column(column)
    for r in results:
        table.add_row(r.kind, "yes" if r.dead_lettered else "no", r.code or "-", str(r.good_sent),
                      str(r.good_decided), str(r.lost), str(r.decided_twice))
    console.print(table)
    console.print(f"results written to {json_out}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


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
    if role in ("screener", "hub") and not hub:
        raise typer.BadParameter(f"a {role} key works for one hub: give --hub")
    from scoring import hubs

    store = _store(get_settings())
    if hub is not None:
        try:
            hubs.check(store, hub)
        except hubs.UnknownHub as exc:
            raise typer.BadParameter(str(exc), param_hint="--hub") from exc
    token = secrets.token_urlsafe(24)
    store.access.add_key(name, role, token, hub)
    sys.stdout.write(token + "\n")


hub_app = typer.Typer(help="The hub registry: hubs as reference data (keys, capacities and manifests are checked "
                           "against it).", no_args_is_help=True)
app.add_typer(hub_app, name="hub")


@hub_app.command("add")
def hub_add(
    hub_id: Annotated[str, typer.Argument(help="the hub id manifests carry, e.g. HAK-MEILAN")],
    name: Annotated[str, typer.Option(help="a name people recognise")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone the hub's pages show")] = "UTC",
    capacity: Annotated[int | None, typer.Option(help="default X-ray parcels per hour")] = None,
) -> None:
    """Register a hub (or update its name, time zone and default capacity)."""
    from pydantic import ValidationError

    from scoring.hubs import HubSpec

    try:
        spec = HubSpec(hub_id=hub_id, name=name, time_zone=time_zone, default_capacity=capacity)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise typer.BadParameter(str(first["msg"]).removeprefix("Value error, "),
                                 param_hint="--" + str(first["loc"][0]).replace("_", "-")) from exc
    _store(get_settings()).hubs.save(spec.row(), actor="cli")
    console.print(f"hub {hub_id} registered ({name}, {time_zone}"
                  + (f", {capacity} per hour" if capacity else "") + ")")


@hub_app.command("list")
def hub_list() -> None:
    """Print the registered hubs."""
    for hub in _store(get_settings()).hubs.all():
        capacity = f"{hub.default_capacity}/h" if hub.default_capacity else "-"
        sys.stdout.write(f"{hub.hub_id}\t{hub.name}\t{hub.time_zone}\t{capacity}\n")


@app.command()
def up(
    speed: Annotated[float, typer.Option(help="world seconds per wall second: 1 is real time, 60 runs a world "
                                              "hour a minute (capacities scale with it)")] = 1.0,
    history_days: Annotated[int, typer.Option(help="days of generated history the first model trains on")] = 28,
    per_day: Annotated[int, typer.Option(help="parcels a world day, all origins")] = 6000,
    retrain_every: Annotated[str | None, typer.Option(
        help="retraining period, e.g. 10m (default: six world hours, at least 5 minutes)")] = None,
) -> None:
    """Run everything on embedded defaults: broker, registry, first model, scorer, API, a live feed on the demo
    clock, simulated X-ray stations and a retraining loop."""
    from parcelguard.up import DemoOptions, exit_at_once, run_all

    options = DemoOptions(speed=speed, history_days=history_days, per_day=per_day,
                          retrain_every_s=_seconds(retrain_every) if retrain_every else None)
    run_all(get_settings(), console, options)
    exit_at_once()


if __name__ == "__main__":
    app()
