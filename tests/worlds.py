"""Small generated worlds shared by tests (generated once per session, read-only)."""

from __future__ import annotations

from pathlib import Path

from training.world.generate import WorldConfig, WorldFiles, write_world

SMALL = WorldConfig(days=12, parcels_per_day=2500, seed=11)


def small_world(root: Path) -> WorldFiles:
    return write_world(SMALL, root / "world")
