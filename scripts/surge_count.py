"""Which parcels of a recorded world the surge rule marks, day by day (scoring.segments.SegmentVolumes).

Reads a world's manifests and truth (as `parcelguard generate` writes them), keeps the in-scope parcels
(scope from the settings, as the scorer does), and prints per day: in-scope parcels, parcels in a surging
segment, new-pattern parcels, and new-pattern parcels marked. Used for docs/worlds-2026-11.md.

    parcelguard generate --out W --days 34 --per-day 3000 --seed 1 --new-pattern-day 18 --pattern route
    .venv/bin/python scripts/surge_count.py W
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import orjson

from models.manifest import Manifest
from parcelguard.config import Settings
from scoring.policy import PolicyConfig
from scoring.segments import SURGE_GAIN, SegmentVolumes, volume_segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=Path, help="folder with manifests.jsonl and truth.jsonl")
    args = parser.parse_args()
    settings = Settings()
    scope = PolicyConfig.build(settings.priority_origins, settings.destinations)
    novel = {t["parcel_id"] for t in map(orjson.loads, (args.world / "truth.jsonl").open("rb"))
             if t.get("new_pattern")}
    manifests = [m for m in (Manifest.model_validate_json(line) for line in (args.world / "manifests.jsonl").open("rb"))
                 if scope.in_scope(m)]
    manifests.sort(key=lambda m: m.accepted_at)
    volumes = SegmentVolumes()
    first = manifests[0].accepted_at.timestamp()
    days: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for m in manifests:
        at, keys = m.accepted_at.timestamp(), volume_segments(m)
        volumes.add(keys, at)
        marked, new = volumes.weight(keys, at) == SURGE_GAIN, m.parcel_id in novel
        row = days[int((at - first) // 86400)]
        row[0] += 1
        row[1] += int(marked)
        row[2] += int(new)
        row[3] += int(marked and new)
    print("day  in-scope  marked  new-pattern  new-pattern marked")
    for day, (total, flagged, fresh, both) in sorted(days.items()):
        print(f"{day:>3}  {total:>8}  {flagged:>6}  {fresh:>11}  {both:>18}")


if __name__ == "__main__":
    main()
