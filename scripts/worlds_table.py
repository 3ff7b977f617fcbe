"""The per-kind targets table from whatever worlds finished: reads OUT/KIND/seed-N/simulation.json.

`scripts/worlds-eval.sh` writes OUT/worlds.md only when every world has run; this assembles the same table
(``training.simulation.kinds``) from the worlds on disk, so an interrupted run, or runs split across
folders, still give their figures:

    .venv/bin/python scripts/worlds_table.py OUT [OUT ...] --write FOLDER
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from training.simulation import kinds


def finished(folders: list[Path]) -> dict[str, dict[int, dict[str, Any]]]:
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for folder in folders:
        for path in sorted(folder.glob("*/seed-*/simulation.json")):
            kind, seed = path.parent.parent.name, int(path.parent.name.removeprefix("seed-"))
            found.setdefault(kind, {})[seed] = orjson.loads(path.read_bytes())["summary"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--write", type=Path, help="also write worlds.md / worlds.json and KIND/seeds.* here")
    args = parser.parse_args()
    summaries = finished(args.folders)
    found = [kinds.targets(kind, by_seed) for kind, by_seed in summaries.items()]
    Console(width=200).print(kinds.rich_table(found))
    if args.write:
        for name, path in kinds.write(found, summaries, args.write).items():
            print(f"{name}: {path}")


if __name__ == "__main__":
    main()
