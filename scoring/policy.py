"""The decision policy: scope, hard rules, a capacity-tracking threshold, exploration, fail-safe.

Time here is event time (the manifest's ``accepted_at``), so a replayed month or a simulation behaves
like the live stream did. Every decision records the probability with which the parcel was chosen
for screening (its propensity), which is what lets training and evaluation undo the selection bias.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from models.manifest import Action, Why

WINDOW = 4000  # recent in-scope scores per hub the threshold is read from
HOURLY_EWMA = 0.3


@dataclass(frozen=True)
class PolicyConfig:
    priority_origins: frozenset[str]
    destinations: frozenset[str]
    capacity_share: float = 0.05
    hub_capacity_per_hour: dict[str, int] = field(default_factory=dict)
    exploration_share: float = 0.1
    seed: str = "parcelguard"

    @classmethod
    def build(cls, priority_origins: list[str], destinations: list[str], **kwargs: object) -> PolicyConfig:
        return cls(
            priority_origins=frozenset(o.strip().lower() for o in priority_origins),
            destinations=frozenset(d.strip().lower() for d in destinations),
            **kwargs,  # type: ignore[arg-type]
        )

    def in_scope(self, origin_province: str, origin_city: str | None, destination_province: str) -> bool:
        every = "*" in self.priority_origins
        origin_ok = every or origin_province.lower() in self.priority_origins or (
            origin_city is not None and origin_city.lower() in self.priority_origins
        )
        return origin_ok and ("*" in self.destinations or destination_province.lower() in self.destinations)


@dataclass(frozen=True)
class Choice:
    action: Action
    why: Why
    propensity: float


def uniform(seed: str, parcel_id: str) -> float:
    """A reproducible draw in [0, 1) per parcel, so a replay explores the same parcels."""
    digest = hashlib.blake2b(f"{seed}:{parcel_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class HubBudget:
    """One hub's screening budget: how many to flag now, given volume and scores seen so far."""

    def __init__(self, config: PolicyConfig, hub_id: str, reference_scores: list[float]) -> None:
        self.config = config
        self.capacity = config.hub_capacity_per_hour.get(hub_id)
        self.scores: deque[float] = deque(reference_scores[-WINDOW:], maxlen=WINDOW)
        self.hour: int | None = None
        self.in_hour = 0
        self.flagged_in_hour = 0
        self.hourly_volume: float | None = None
        self._threshold: float | None = None
        self._since_threshold = 0

    def advance(self, hour: int) -> None:
        if hour != self.hour:
            if self.hour is not None and hour > self.hour:
                seen = float(self.in_hour)
                self.hourly_volume = seen if self.hourly_volume is None else (
                    (1 - HOURLY_EWMA) * self.hourly_volume + HOURLY_EWMA * seen
                )
            self.hour, self.in_hour, self.flagged_in_hour = hour, 0, 0
        self.in_hour += 1

    def target_share(self) -> float:
        """Share of in-scope parcels to screen now: capacity over expected volume, or the fixed share."""
        if self.capacity is None:
            return self.config.capacity_share
        expected = max(self.hourly_volume or 0.0, float(self.in_hour), 1.0)
        return min(1.0, self.capacity / expected)

    def at_capacity(self) -> bool:
        return self.capacity is not None and self.flagged_in_hour >= self.capacity

    def model_threshold(self) -> float:
        # Recomputing a quantile of 4,000 floats per parcel would dominate the hot path.
        if self._threshold is None or self._since_threshold >= 50:
            share = self.target_share() * (1 - self.config.exploration_share)
            if not self.scores:
                self._threshold = 0.0
            else:
                self._threshold = float(np.quantile(np.fromiter(self.scores, float), 1 - share))
            self._since_threshold = 0
        self._since_threshold += 1
        return self._threshold

    def exploration_probability(self) -> float:
        share = self.target_share()
        model_share = share * (1 - self.config.exploration_share)
        return min(1.0, share * self.config.exploration_share / max(1e-9, 1 - model_share))


class DecisionPolicy:
    """Chooses SCREEN or RELEASE for in-scope parcels, one hub budget per hub."""

    def __init__(self, config: PolicyConfig, reference_scores: list[float] | None = None) -> None:
        self.config = config
        self.reference_scores = list(reference_scores or [])
        self.budgets: dict[str, HubBudget] = {}

    def reset_scores(self, reference_scores: list[float]) -> None:
        """A new model scores on its own scale: restart each hub's threshold window from its reference."""
        self.reference_scores = list(reference_scores)
        for budget in self.budgets.values():
            budget.scores.clear()
            budget.scores.extend(self.reference_scores[-WINDOW:])
            budget._threshold = None

    def budget(self, hub_id: str) -> HubBudget:
        if hub_id not in self.budgets:
            self.budgets[hub_id] = HubBudget(self.config, hub_id, self.reference_scores)
        return self.budgets[hub_id]

    def choose(
        self, parcel_id: str, hub_id: str, hour: int, score: float | None, rule_hit: bool, model_ready: bool
    ) -> Choice:
        budget = self.budget(hub_id)
        budget.advance(hour)
        if rule_hit:
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "rule", 1.0)
        if not model_ready or score is None:
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "fail_safe", 1.0)
        threshold = budget.model_threshold()
        budget.scores.append(score)
        if score >= threshold and not budget.at_capacity():
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "model", 1.0)
        explore = budget.exploration_probability()
        if explore > 0 and uniform(self.config.seed, parcel_id) < explore and not budget.at_capacity():
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "exploration", explore)
        return Choice("RELEASE", "model", explore)
