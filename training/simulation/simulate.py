"""Closed-loop simulation: the service's own scorer, decision log, outcomes and retraining over N days.

Each simulated day, the day's manifests go through ``scoring.engine.Scorer.process`` (the code the Kafka
scorer runs) into a decision log in a private SQLite store, an hour at a time; screened parcels reveal
their truth as outcomes two hours after acceptance through the store's ``record_outcome`` (and,
optionally, a share of released contraband surfaces later as a late label); every few
days a challenger is trained from that log with IPW weights plus the bootstrap history, judged against
the champion by ``training.promote.judge`` and swapped in when it wins. The same days are also
screened by baselines at the same capacity: exploration off (the same loop), rules only (the hard
rules plus the domain brief's risk indicators), random, and every priority-origin parcel (the old
policy). The perfect ranking screens the parcels with the highest true probability.

Over 400 lines because the scored arms and the baselines must see one world's parcels, days and seeds in
step; ``report`` and ``seeds`` beside it write the results.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from models.features import CHINA_TZ, FeatureBuilder, FeatureRow
from models.history import HistoryState
from models.manifest import Manifest, Outcome
from models.pii import Hasher
from models.risk_model import RiskModel
from parcelguard.config import Settings
from scoring.db import make_engine
from scoring.engine import ModelSource, Scorer
from scoring.policy import PolicyConfig
from scoring.store import Store
from training.dataset import TrainingSet, from_decision_log, read_jsonl, replay_typed
from training.promote import judge
from training.train import NotEnoughLabels, TrainConfig, fit
from training.world.generate import WorldConfig, generate

log = logging.getLogger(__name__)
ARMS = ("system", "no_exploration", "rules_only", "random", "all_priority")
# ``score_explore`` (opt-in): the system with the exploration of before 2026-11-27 (score rank and parties
# only), to measure the segment-weighted exploration against on the same world.
SCORED_ARMS = ("system", "no_exploration", "score_explore")
KNOWN_PATTERNS = frozenset({"", "benign"})  # truth patterns that never make a parcel part of a new pattern
BATCH = 2000
SCREENING_DELAY = timedelta(hours=2)  # from acceptance to the screener's recorded outcome


@dataclass(frozen=True)
class SimConfig:
    days: int = 40
    parcels_per_day: int = 4000
    history_days: int = 14  # fully screened days before day 0: the bootstrap a new site starts from
    capacity_share: float = 0.05
    exploration_share: float = 0.1  # of the screening budget, for the system arm
    # Simulated day (0-based) the new pattern starts. Replaying a recorded world, None means: the first
    # day a parcel of a new pattern appears in its truth (``new_pattern`` set, or a ``pattern`` no history
    # day had).
    new_pattern_day: int | None = 15
    pattern: str = "ring"  # the generator's kind of new pattern (training.world.patterns.PATTERN_KINDS)
    retrain_every: int = 3
    seed: int = 7
    late_label_share: float = 0.0  # share of released contraband that surfaces later as a late label
    late_label_delay_days: int = 5
    promotion_margin: float = 0.0
    half_life_days: float | None = None
    valid_days: float = 7.0
    arms: tuple[str, ...] = ARMS


@dataclass(slots=True)
class Parcel:
    manifest: Manifest
    raw: dict[str, Any]
    label: bool
    p: float
    pattern: str
    novel: bool = False  # its truth line marks it as part of the new pattern (``new_pattern``)


# --------------------------------------------------------------------------- worlds


def generated_days(config: SimConfig) -> Iterator[tuple[int, list[Parcel]]]:
    """The generator's world, day by day: ``history_days`` of bootstrap, then the simulated days."""
    npd = None if config.new_pattern_day is None else config.history_days + config.new_pattern_day
    world = WorldConfig(days=config.history_days + config.days, parcels_per_day=config.parcels_per_day,
                        seed=config.seed, new_pattern_day=npd, pattern=None if npd is None else config.pattern)
    current, parcels = 0, list[Parcel]()
    for raw, truth in generate(world):
        if truth["day"] != current:
            yield current, parcels
            current, parcels = truth["day"], []
        parcels.append(Parcel(Manifest.model_validate(raw), raw, bool(truth["label"]), float(truth["p"]),
                              str(truth.get("pattern", "")), bool(truth.get("new_pattern"))))
    yield current, parcels


def recorded_days(manifests: Path, truth: Path) -> Iterator[tuple[int, list[Parcel]]]:
    """A recorded world (manifest JSONL in time order + the generator's truth format), split by local day."""
    facts: dict[str, dict[str, Any]] = {}
    for n, fact in enumerate(read_jsonl(truth), 1):
        if "parcel_id" not in fact or "label" not in fact:
            raise ValueError(f"{truth}:{n}: a truth line needs parcel_id and label")
        facts[str(fact["parcel_id"])] = fact
    first: int | None = None
    current, parcels = 0, list[Parcel]()
    for n, raw in enumerate(read_jsonl(manifests), 1):
        try:
            manifest = Manifest.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{manifests}:{n}: invalid manifest: {exc.errors()[0]['msg']}") from exc
        found = facts.get(manifest.parcel_id)
        if found is None:
            raise ValueError(f"{manifests}:{n}: parcel {manifest.parcel_id} has no line in {truth}")
        fact = found
        ordinal = manifest.accepted_at.astimezone(CHINA_TZ).date().toordinal()
        first = ordinal if first is None else first
        day = int(fact["day"]) if "day" in fact else ordinal - first
        if day < current:
            raise ValueError(f"{manifests}:{n}: manifests must be in time order (day {day} after day {current})")
        if day != current:
            if parcels:
                yield current, parcels
            current, parcels = day, []
        label = bool(fact["label"])
        p = float(fact["p"]) if fact.get("p") is not None else float(label)
        parcels.append(Parcel(manifest, raw, label, p, str(fact.get("pattern") or ""), bool(fact.get("new_pattern"))))
    if parcels:
        yield current, parcels


def _draw(seed: int, parcel_id: str, purpose: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{purpose}:{parcel_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --------------------------------------------------------------------------- the service's own loop


@dataclass
class Retraining:
    day: int
    arm: str
    rows: int
    positives: int
    promoted: bool
    reason: str
    version: str
    challenger_recall: float
    champion_recall: float | None


class ScoredArm:
    """The service's path: Scorer → decision log → outcomes → retrain from the log → promotion."""

    def __init__(self, name: str, settings: Settings, config: SimConfig, folder: Path, model: RiskModel,
                 trained_until: float, history: HistoryState, bootstrap_set: TrainingSet) -> None:
        self.name, self.config, self.settings = name, config, settings
        self.store = Store(make_engine(f"sqlite:///{folder / f'{name}.db'}"))
        self.store.create_schema()
        self.bootstrap_set = bootstrap_set
        self.champion, self.trained_until = model, trained_until
        # The store starts seeded with the bootstrap's entity stats, as a deployed store would be, so the
        # outcome counts ``record_outcome`` moves continue from the history's.
        self.store.stats.save(history.stats)
        self.scorer = self._scorer(model, history)
        self.late: dict[int, list[tuple[str, Any]]] = defaultdict(list)
        self.pending: deque[tuple[datetime, Parcel]] = deque()  # screened, outcome not yet recorded
        self.retrainings: list[Retraining] = []

    def _scorer(self, model: RiskModel, history: HistoryState) -> Scorer:
        scorer = Scorer(self.settings, self.store, ModelSource.fixed(model), cache_history=True)
        scorer.continue_history(history)  # the entity history continues from the bootstrap
        return scorer

    def decide(self, day: int, parcels: list[Parcel]) -> dict[str, str]:
        """The day through the real scorer: parcel id -> why it was screened (absent when released).

        Parcels go through an hour of event time at a time; before each hour, the outcomes screeners
        have recorded by then (``SCREENING_DELAY`` after acceptance) go into the store, whose
        ``record_outcome`` credits them to the parcels' entities, so later parcels see them.
        ``Scorer.decide`` is the decision path ``Scorer.process`` runs; the entity history stays in memory
        (a replayed world has no duplicates to deduplicate), so only the decisions with their feature rows
        are written, and the outcome counts the store moved are read back into the cached history.
        """
        self._record_late(day)
        screened: dict[str, str] = {}
        history = self.scorer.history
        ordered = sorted(parcels, key=lambda p: p.manifest.accepted_at)
        hours = [int(p.manifest.accepted_at.timestamp() // 3600) for p in ordered]
        start = 0
        while start < len(ordered):
            stop = start
            while stop < len(ordered) and hours[stop] == hours[start] and stop - start < BATCH:
                stop += 1
            chunk = ordered[start:stop]
            self._record_due(chunk[0].manifest.accepted_at)
            records = self.scorer.decide([(p.manifest, p.raw) for p in chunk], history)
            # Out-of-scope decisions carry nothing training reads; leaving them out halves the writes.
            self.store.decisions.record([r for r in records if r.decision.why != "out_of_scope"], {})
            history.dirty.clear()
            for p, r in zip(chunk, records, strict=True):
                if r.decision.action == "SCREEN":
                    screened[p.manifest.parcel_id] = r.decision.why
                    self.pending.append((p.manifest.accepted_at + SCREENING_DELAY, p))
                elif p.label and _draw(self.config.seed, p.manifest.parcel_id, "late") < self.config.late_label_share:
                    found = p.manifest.accepted_at + timedelta(days=self.config.late_label_delay_days)
                    self.late[day + self.config.late_label_delay_days].append((p.manifest.parcel_id, found))
            start = stop
        return screened

    def _record_due(self, now: datetime) -> None:
        """Screeners record what they found on the parcels whose screening is done by ``now``."""
        keys: set[str] = set()
        while self.pending and self.pending[0][0] <= now:
            at, p = self.pending.popleft()
            self.store.outcomes.record(Outcome(parcel_id=p.manifest.parcel_id, screened_at=at,
                                              result="contraband" if p.label else "clear"), "simulator")
            keys.update(self.scorer.features.entity_keys(p.manifest).all())
        if keys:
            self.scorer.merge_outcomes(keys)

    def finish(self) -> None:
        """The screenings still under way when the simulation ends are recorded too."""
        if self.pending:
            self._record_due(self.pending[-1][0])

    def _record_late(self, day: int) -> None:
        """A share of released contraband surfaces days later (a late label)."""
        for parcel_id, at in self.late.pop(day, []):
            self.store.outcomes.record(Outcome(parcel_id=parcel_id, screened_at=at, result="contraband",
                                              source="late"), "simulator")

    def retrain(self, day: int) -> Retraining | None:
        """A challenger from the decision log plus the bootstrap history, promoted only if it wins."""
        data = TrainingSet(source="simulation")
        data.extend(self.bootstrap_set)
        data.extend(from_decision_log(self.store))
        train_config = TrainConfig(test_days=float(self.config.retrain_every), valid_days=self.config.valid_days,
                                   half_life_days=self.config.half_life_days)
        try:
            model, test = fit(data, name=self.champion.name, config=train_config)
        except NotEnoughLabels as exc:
            log.info("simulation: no retraining", extra={"day": day, "arm": self.name, "reason": str(exc)})
            return None
        model.version = f"{self.name}-day{day}"
        comparison = judge(model, self.champion, test, self.config.capacity_share, self.config.promotion_margin,
                           self.trained_until)
        if comparison.promoted:
            self.champion, self.trained_until = model, test.times[0] if len(test) else math.inf
            # As a running scorer does on a new champion (Scorer.refresh_model): the model and the score
            # window it reads thresholds from change; the hubs' budgets and the entity history carry on.
            self.scorer.serve(model)
        found = Retraining(day, self.name, len(data), data.positives, comparison.promoted, comparison.reason,
                           model.version, comparison.challenger, comparison.champion)
        self.retrainings.append(found)
        return found


# --------------------------------------------------------------------------- baselines

def indicator_count(row: FeatureRow) -> int:
    """How many of the domain brief's risk indicators a parcel shows (a rules-based targeting list)."""

    def num(name: str) -> float:
        value = row.get(name)
        return math.nan if value is None or isinstance(value, str) else float(value)

    def cat(name: str) -> str:
        value = row.get(name)
        return value if isinstance(value, str) else ""

    return sum((
        num("description_vague") == 1.0,
        num("declared_value") <= 1.0,
        num("account_age_days") < 30,
        num("sender_account_prior") == 0.0,
        num("recipient_address_prior") == 0.0,
        num("recipient_distinct_senders") >= 3,
        num("recipient_recent_parcels") >= 2,
        num("id_verified") == 0.0,
        cat("payment") in {"cash", "cod"},
        cat("address_type") in {"locker", "pickup point", "hotel"},
        cat("category") == "gift",
    ))


class Baselines:
    """Rules-only, random and screen-everything selections over the same days, at the same capacity."""

    def __init__(self, settings: Settings, config: SimConfig, history: HistoryState) -> None:
        self.config = config
        self.builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
        self.history = history
        self.rng = np.random.default_rng(config.seed)

    def select(self, parcels: list[Parcel], in_scope: list[int], k: int, rule_hits: set[str]) -> dict[str, set[int]]:
        rows = [self.builder.build(p.manifest, self.history) for p in parcels]  # counts every parcel, in order
        chosen: dict[str, set[int]] = {"all_priority": set(in_scope)}
        chosen["random"] = set(self.rng.choice(in_scope, size=min(k, len(in_scope)), replace=False).tolist())
        ties = self.rng.random(len(parcels))
        hits = [i for i in in_scope if parcels[i].manifest.parcel_id in rule_hits]
        rest = sorted((i for i in in_scope if parcels[i].manifest.parcel_id not in rule_hits),
                      key=lambda i: (-indicator_count(rows[i]), ties[i]))
        chosen["rules_only"] = set(hits) | set(rest[: max(0, k - len(hits))])
        return chosen


# --------------------------------------------------------------------------- the loop


@dataclass
class SimResult:
    config: SimConfig
    days: list[dict[str, Any]] = field(default_factory=list)
    retrainings: list[Retraining] = field(default_factory=list)
    source: str = "generator"


def _day_record(day: int, parcels: list[Parcel], in_scope: list[int], k: int, selections: dict[str, set[int]],
                new_pattern: bool, versions: dict[str, str], known: frozenset[str]) -> dict[str, Any]:
    p = np.array([parcels[i].p for i in in_scope])
    y = np.array([parcels[i].label for i in in_scope], dtype=float)
    novel = np.array([is_novel(parcels[i], known) for i in in_scope], dtype=bool)
    position = {i: j for j, i in enumerate(in_scope)}
    total_p, total_y = float(p.sum()), float(y.sum())
    perfect = np.argsort(-p, kind="stable")[:k]
    perfect_p = float(p[perfect].sum())
    record: dict[str, Any] = {
        "day": day, "in_scope": len(in_scope), "capacity": k, "contraband": int(total_y),
        "expected_contraband": round(total_p, 3), "new_pattern": new_pattern,
        "perfect": {"expected_share": perfect_p / total_p if total_p else math.nan,
                    "caught": int(y[perfect].sum())},
        "arms": {},
    }
    for arm, chosen in selections.items():
        idx = np.array(sorted(position[i] for i in chosen if i in position), dtype=int)
        caught_p = float(p[idx].sum()) if len(idx) else 0.0
        entry: dict[str, Any] = {
            "screened": len(idx),
            "caught": int(y[idx].sum()) if len(idx) else 0,
            "share_caught": float(y[idx].sum()) / total_y if total_y else math.nan,
            "expected_share": caught_p / total_p if total_p else math.nan,
            "ratio": caught_p / perfect_p if perfect_p else math.nan,
            "new_pattern_caught": (float(p[idx][novel[idx]].sum()) / float(p[novel].sum())
                                   if novel.any() and len(idx) else None),
        }
        if arm in versions:
            entry["model_version"] = versions[arm]
        record["arms"][arm] = entry
    return record


def is_novel(parcel: Parcel, known: frozenset[str]) -> bool:
    """Part of the new pattern: marked so in its truth, or of a pattern no history day had."""
    return parcel.novel or (parcel.pattern not in known and parcel.pattern not in KNOWN_PATTERNS)


def run(
    settings: Settings, config: SimConfig, days: Iterator[tuple[int, list[Parcel]]] | None = None,
    progress: Callable[[int, dict[str, Any] | None], None] | None = None, source: str = "generator",
    workdir: Path | None = None,
) -> SimResult:
    """Bootstrap on the history days, then simulate; ``progress(day, record)`` after each day.

    Each scored arm keeps its decision log in ``workdir/ARM.db`` (SQLite, the service's schema) when a
    folder is given, so it can be inspected afterwards; otherwise in a temporary folder.
    """
    settings = settings.model_copy(update={"capacity_share": config.capacity_share, "hub_capacity_per_hour": {}})
    recorded = days is not None
    days = iter(days) if days is not None else generated_days(config)
    policy = PolicyConfig.build(settings.priority_origins, settings.destinations)
    builder = FeatureBuilder(Hasher(settings.hash_key.get_secret_value()))
    result = SimResult(config, source=source)

    # The history days (a fully screened history: every label is known) are read once, up to the first
    # simulated day, which is kept for the loop.
    labels: dict[str, bool] = {}
    patterns: set[str] = set()  # the truth patterns the history days hold: what is not new
    first_day: int | None = None
    pending: tuple[int, list[Parcel]] | None = None

    def history_manifests() -> Iterator[Manifest]:
        nonlocal first_day, pending
        for day, parcels in days:
            first_day = day if first_day is None else first_day
            if day - first_day >= config.history_days:
                pending = (day, parcels)
                return
            for parcel in parcels:
                labels[parcel.manifest.parcel_id] = parcel.label
                if not parcel.novel:
                    patterns.add(parcel.pattern)
                yield parcel.manifest

    # As `parcelguard train` does on a user's history: a first pass types the fields and picks the field
    # pairs, the second builds the rows with their stats frozen at the validation and test periods.
    # The history is held as parsed manifests for the two passes (a few hundred MB at 14 days × 4,000).
    history_list = list(history_manifests())
    bootstrap_set, history = replay_typed(lambda _: iter(history_list), labels, builder, policy)
    history_list.clear()  # the parsed history is not needed past the bootstrap
    labels.clear()
    if pending is None or first_day is None:
        raise ValueError(f"the world has no day after its {config.history_days} history days")
    known = frozenset(patterns)
    # A generated world's new pattern starts on the configured day; a recorded one's, unless a day is
    # given, on the first day its truth shows one (found as the days stream, never a generator default).
    new_pattern_day = config.new_pattern_day
    model, test = fit(bootstrap_set, name=settings.model_name)
    model.version = "bootstrap"
    trained_until = test.times[0] if len(test) else math.inf
    if progress is not None:
        progress(-1, None)

    with contextlib.ExitStack() as stack:
        temporary = None if workdir else stack.enter_context(tempfile.TemporaryDirectory(prefix="parcelguard-sim-"))
        folder = str(workdir or temporary)
        if workdir:
            workdir.mkdir(parents=True, exist_ok=True)
            for arm in SCORED_ARMS:
                (workdir / f"{arm}.db").unlink(missing_ok=True)
        scored: dict[str, ScoredArm] = {}
        for arm in SCORED_ARMS:
            if arm in config.arms:
                share = 0.0 if arm == "no_exploration" else config.exploration_share
                arm_settings = settings.model_copy(update={"exploration_share": share})
                own = HistoryState(stats={key: copy.copy(stat) for key, stat in history.stats.items()})
                scored[arm] = ScoredArm(arm, arm_settings, config, Path(folder), model, trained_until, own,
                                        bootstrap_set)
                if arm == "score_explore":  # before any hub budget exists, so every budget reads it
                    policy_of = scored[arm].scorer.policy
                    policy_of.config = replace(policy_of.config, exploration="score")
        baselines = Baselines(settings, config, history)

        def simulate(sim_day: int, parcels: list[Parcel]) -> None:
            nonlocal new_pattern_day
            if new_pattern_day is None and recorded and any(is_novel(p, known) for p in parcels):
                new_pattern_day = sim_day
            in_scope = [i for i, p in enumerate(parcels) if policy.in_scope(p.manifest)]
            k = round(config.capacity_share * len(in_scope))
            index = {p.manifest.parcel_id: i for i, p in enumerate(parcels)}
            selections: dict[str, set[int]] = {}
            rule_hits: set[str] = set()
            for arm, runner in scored.items():
                screened = runner.decide(sim_day, parcels)
                selections[arm] = {index[pid] for pid in screened}
                rule_hits |= {pid for pid, why in screened.items() if why == "rule"}
            chosen = baselines.select(parcels, in_scope, k, rule_hits)
            selections.update({arm: chosen[arm] for arm in config.arms if arm in chosen})
            npd = new_pattern_day
            record = _day_record(sim_day, parcels, in_scope, k, {a: selections[a] for a in config.arms if a in
                                 selections}, npd is not None and sim_day >= npd,
                                 {a: r.champion.version for a, r in scored.items()}, known)
            if (sim_day + 1) % config.retrain_every == 0:
                for runner in scored.values():
                    found = runner.retrain(sim_day)
                    if found is not None:
                        result.retrainings.append(found)
                        record.setdefault("retrained", {})[runner.name] = found.promoted
            result.days.append(record)
            if progress is not None:
                progress(sim_day, record)

        simulate(0, pending[1])
        start = first_day + config.history_days
        for day, parcels in days:
            sim_day = day - start
            if sim_day >= config.days:
                break
            simulate(sim_day, parcels)
        for runner in scored.values():
            runner.finish()
            runner.store.engine.dispose()
    result.config = replace(config, new_pattern_day=new_pattern_day)
    return result


