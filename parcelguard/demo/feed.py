"""The demo's live feed: the synthetic world's manifests after its history, paced on the demo clock, stamped
with the wall clock, resumed where the last run stopped.

A cursor file under the data folder counts the live manifests taken from the world, so a restart continues
with parcels the scorer has never seen instead of replaying ids it skips as already decided. The ids of
contraband parcels are appended to a truth file before they are sent: the simulated X-ray stations read
them to record what a real X-ray would have found, across restarts too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from parcelguard.demo.clock import DAY_S, DemoClock
from training.world.generate import WorldConfig, generate

log = logging.getLogger(__name__)
CHINA = dt.timezone(dt.timedelta(hours=8))
CURSOR_EVERY = 50  # manifests between cursor writes: a crash replays at most this many (skipped as decided)
WORLD_DAYS = 3650  # the live world is generated lazily, day by day: this is only a bound
Pair = tuple[dict[str, Any], dict[str, Any]]  # (manifest, truth) as the world yields them


class TruthBook:
    """Which live parcels carry contraband: in memory, and appended to a file so a restart still knows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._contraband: set[str] = set()
        if path.exists():
            self._contraband = {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}

    def note(self, parcel_id: str, contraband: bool) -> None:
        if not contraband:
            return
        with self._lock:
            self._contraband.add(parcel_id)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(parcel_id + "\n")

    def is_contraband(self, parcel_id: str) -> bool:
        with self._lock:
            return parcel_id in self._contraband


class FeedCursor:
    """How many live manifests earlier runs took from the world (a small JSON file, replaced atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.taken = int(json.loads(path.read_text(encoding="utf-8"))["taken"]) if path.exists() else 0

    def save(self, taken: int) -> None:
        self.taken = taken
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps({"taken": taken}), encoding="utf-8")
        os.replace(temp, self.path)


def world_seconds(manifest: dict[str, Any], start: dt.date) -> float:
    """Seconds from the world's first midnight (China time) to the parcel's acceptance."""
    accepted = dt.datetime.fromisoformat(manifest["accepted_at"])
    return (accepted - dt.datetime.combine(start, dt.time(), CHINA)).total_seconds()


class LiveFeed:
    """An iterator of live manifests for ``streams.produce.publish``: it waits for each one's time on the demo
    clock (returning early when stopped), stamps it with the wall clock and notes its truth first."""

    def __init__(self, world: WorldConfig, history_days: int, clock: DemoClock, cursor: FeedCursor,
                 truth: TruthBook, stop: threading.Event) -> None:
        self.world, self.history_days, self.clock = world, history_days, clock
        self.cursor, self.truth, self.stop = cursor, truth, stop
        self.sent = 0

    def _live(self) -> Iterator[Pair]:
        return ((m, t) for m, t in generate(self.world) if t["day"] >= self.history_days)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        taken = self.cursor.taken
        live: Iterator[Pair] = islice(self._live(), taken, None)
        if taken == 0:
            # A first run starts at the world's time of day matching China time now: the night is quiet,
            # the afternoon busy, as the user's own clock says.
            now_s = (dt.datetime.now(CHINA) - dt.datetime.now(CHINA).replace(hour=0, minute=0, second=0,
                                                                              microsecond=0)).total_seconds()
            skipped = []
            for item in live:
                if world_seconds(item[0], self.world.start) - self.history_days * DAY_S >= now_s:
                    live = _chain_one(item, live)
                    break
                skipped.append(item)
            taken += len(skipped)
        wall_start = dt.datetime.now(CHINA)
        first: float | None = None
        try:
            for manifest, truth in live:
                at = world_seconds(manifest, self.world.start)
                first = at if first is None else first
                due = wall_start + dt.timedelta(seconds=self.clock.wall_seconds(at - first))
                wait = (due - dt.datetime.now(CHINA)).total_seconds()
                if (wait > 0 and self.stop.wait(wait)) or self.stop.is_set():
                    break
                self.truth.note(manifest["parcel_id"], bool(truth["label"]))
                manifest["accepted_at"] = dt.datetime.now(CHINA).isoformat(timespec="seconds")
                taken += 1
                self.sent += 1
                if taken % CURSOR_EVERY == 0:
                    self.cursor.save(taken)
                yield manifest  # publish sends every manifest it takes, so taken counts sent ones
        finally:  # also when publish stops pulling: the next run starts after the last one sent
            self.cursor.save(taken)


def _chain_one(head: Pair, tail: Iterator[Pair]) -> Iterator[Pair]:
    yield head
    yield from tail
