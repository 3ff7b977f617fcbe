"""The demo's retraining loop: every period, when enough new labels arrived, retrain on the decision log
plus the generated history the first champion learnt from, and say whether the challenger was promoted.

The history goes in because at a demo's pace the live log alone holds a handful of contraband labels for
hours, too few to train on (``NotEnoughLabels``), so retraining and promotion would never show. This is
``parcelguard train --every`` with ``--manifests/--outcomes`` given, which the CLI's loop does not take.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from parcelguard.config import Settings
from scoring.store import Store
from training import pipeline
from training.train import NotEnoughLabels

log = logging.getLogger(__name__)


def history_files(data_dir: Path) -> tuple[Path, Path] | None:
    """The labelled history ``parcelguard up`` generated for its first champion, if this data folder has it."""
    manifests, outcomes = data_dir / "world" / "manifests.jsonl", data_dir / "world" / "outcomes.jsonl"
    return (manifests, outcomes) if manifests.exists() and outcomes.exists() else None


def retrain_loop(settings: Settings, store: Store, every_s: float, min_new_labels: int, stop: threading.Event,
                 say: Callable[[str], None]) -> None:
    """Until ``stop``: wait a period (the champion in service is fresh), then retrain if enough is new."""
    history = history_files(settings.data_dir)
    while not stop.wait(every_s):
        try:
            fresh = pipeline.new_labels_since_last_run(settings, store)
            if fresh < min_new_labels:
                say(f"retraining skipped: {fresh} new label(s), {min_new_labels} needed")
                continue
            result = pipeline.retrain(settings, store, *(history or (None, None)))
        except (NotEnoughLabels, pipeline.TrainingBusy) as exc:
            say(f"retraining skipped: {exc}")
            continue
        except Exception:  # the demo keeps serving; the next period tries again
            log.exception("demo retraining failed; retrying next period")
            continue
        c = result.comparison
        say(f"retrained on {fresh} new label(s): version {c.challenger_version} "
            f"{'PROMOTED to champion' if c.promoted else 'kept as challenger'} ({c.reason})")
