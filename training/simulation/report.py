"""What a simulation found: a summary per arm, the per-day table (Rich and Markdown), JSON and a figure."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.table import Table

from training import plots
from training.simulation.simulate import SimResult

LABELS = {"system": "system", "no_exploration": "no explore", "score_explore": "score explore",
          "rules_only": "rules only", "random": "random", "all_priority": "100% priority"}
# Recovery is counted to the catch target itself (issue 14: back to 0.85 within 5 days), not a lower bar.
TARGET, RECOVERY, RECOVERY_DAYS, SMOOTH = 0.85, 0.85, 14, 3


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summary(result: SimResult) -> dict[str, Any]:
    """Per arm: mean ratio to the perfect ranking (all days, before and after the new pattern), days until
    the ``SMOOTH``-day mean is back at ``RECOVERY``, and the new pattern's share caught."""
    days = result.days
    npd = result.config.new_pattern_day
    arms = list(days[0]["arms"]) if days else []
    out: dict[str, Any] = {"perfect_expected_share": _mean([d["perfect"]["expected_share"] for d in days])}
    for arm in arms:
        ratios = [d["arms"][arm]["ratio"] for d in days]
        entry: dict[str, Any] = {
            "mean_ratio": _mean(ratios),
            "pooled_ratio": (sum(d["arms"][arm]["expected_share"] * d["expected_contraband"] for d in days)
                             / max(1e-12, sum(d["perfect"]["expected_share"] * d["expected_contraband"]
                                              for d in days))),
            "mean_share_caught": _mean([d["arms"][arm]["share_caught"] for d in days]),
            "caught": sum(d["arms"][arm]["caught"] for d in days),
            "screened_per_day": _mean([float(d["arms"][arm]["screened"]) for d in days]),
        }
        if npd is not None and arm != "all_priority" and any(d["day"] >= npd for d in days):
            before = [d["arms"][arm]["ratio"] for d in days if d["day"] < npd]
            after = [d["arms"][arm]["ratio"] for d in days if d["day"] >= npd]
            late = [d["arms"][arm]["ratio"] for d in days if d["day"] >= npd + RECOVERY_DAYS]
            smooth = [_mean(after[max(0, i - SMOOTH + 1): i + 1]) for i in range(len(after))]
            back = next((i for i, v in enumerate(smooth) if i >= SMOOTH - 1 and v >= RECOVERY), None)
            entry.update({
                "mean_ratio_before_new_pattern": _mean(before),
                "mean_ratio_after_new_pattern": _mean(after),
                f"mean_ratio_from_day_{npd + RECOVERY_DAYS}": _mean(late),
                "days_to_recover": back,
                "new_pattern_caught": _mean([d["arms"][arm].get("new_pattern_caught") for d in days
                                             if d["day"] >= npd]),
            })
        out[arm] = entry
    return out


def cell(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def rows(result: SimResult) -> tuple[list[str], list[list[str]]]:
    """The per-day table as plain strings: header and rows (summary rows last)."""
    arms = list(result.days[0]["arms"]) if result.days else []
    header = ["day", "in scope", "contraband", "perfect catch", *[LABELS.get(a, a) for a in arms]]
    body: list[list[str]] = []
    for d in result.days:
        marks = ("*" if d["day"] == result.config.new_pattern_day else "") + ("r" if d.get("retrained") else "")
        cells = [f"{d['day']}{marks}", str(d["in_scope"]), str(d["contraband"]),
                 f"{d['perfect']['expected_share']:.0%}"]
        for arm in arms:
            a = d["arms"][arm]
            cells.append(f"{a['expected_share']:.0%} ({a['screened']})" if arm == "all_priority"
                         else cell(a["ratio"]))
        body.append(cells)
    facts = summary(result)
    body.append(["mean", "", "", f"{facts['perfect_expected_share']:.0%}",
                 *[cell(facts[a]["mean_ratio"]) if a != "all_priority" else "100%" for a in arms]])
    npd = result.config.new_pattern_day
    if npd is not None and any("mean_ratio_after_new_pattern" in facts[a] for a in arms):
        for key, name in (("mean_ratio_before_new_pattern", f"mean d<{npd}"),
                          ("mean_ratio_after_new_pattern", f"mean d≥{npd}"),
                          (f"mean_ratio_from_day_{npd + RECOVERY_DAYS}", f"mean d≥{npd + RECOVERY_DAYS}")):
            body.append([name, "", "", "", *[cell(facts[a].get(key)) for a in arms]])
        body.append([f"days to ≥{RECOVERY:.2f}", "", "", "", *[_recovery(facts[a]) for a in arms]])
    return header, body


def _recovery(facts: dict[str, Any]) -> str:
    if "days_to_recover" not in facts:
        return ""
    return "never" if facts["days_to_recover"] is None else str(facts["days_to_recover"])


def rich_table(result: SimResult) -> Table:
    header, body = rows(result)
    table = Table(title=f"expected contraband caught / perfect ranking at {result.config.capacity_share:.0%} capacity "
                        "(* new pattern, r retrained)")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for i, row in enumerate(body):
        table.add_row(*row, end_section=i == len(result.days) - 1)
    return table


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def markdown(result: SimResult) -> str:
    return markdown_table(*rows(result))


def to_json(result: SimResult) -> bytes:
    body = {"config": asdict(result.config), "source": result.source, "summary": summary(result),
            "days": result.days, "retrainings": [asdict(r) for r in result.retrainings]}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def figure(result: SimResult, path: Path) -> Path:
    arms = list(result.days[0]["arms"]) if result.days else []
    retrain_days = sorted({r.day for r in result.retrainings if r.promoted and r.arm == "system"})
    return plots.simulation(result.days, arms, result.config.new_pattern_day, retrain_days, path)


def write(result: SimResult, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "simulation.json", "png": out_dir / "simulation.png",
             "markdown": out_dir / "simulation.md"}
    paths["json"].write_bytes(to_json(result))
    paths["markdown"].write_text(markdown(result) + "\n")
    figure(result, paths["png"])
    return paths
