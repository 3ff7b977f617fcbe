"""The decision policy: scope, hard rules, a capacity-tracking threshold, exploration, fail-safe.

Each hub has an X-ray capacity per hour. The budget is paced through the hour: from what is left of
the hour's capacity, the rule hits still expected, and the volume still expected (the hub's usual
volume for that hour of day blended with the rate seen so far), it sets the share of the remaining
parcels to flag, and reads the model threshold as that quantile of the hub's recent scores. Over-
or under-flagging early in an hour is therefore corrected later in it, as volume and the score
distribution move. Rule hits are always flagged, even past capacity; the model and exploration
stop at capacity.

Time here is event time (the manifest's ``accepted_at``), so a replayed month or a simulation behaves
like the live stream did. Every decision records the probability with which the parcel was chosen
for screening (its propensity), which is what lets training and evaluation undo the selection bias.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from dataclasses import dataclass, field

from models.manifest import Action, Why

WINDOW = 4000  # recent scores per hub the threshold is read from
PROFILE_EWMA = 0.3  # how fast a hub's usual volume per hour of day follows change
RULE_RATE_EWMA = 0.02  # per parcel: the rule-hit rate's memory is a few hundred parcels
HOUR_S = 3600.0
UTC8_S = 8 * 3600  # hubs run on China time: the hour-of-day profile follows it


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
            priority_origins=frozenset(o.strip().lower() for o in priority_origins if o.strip()),
            destinations=frozenset(d.strip().lower() for d in destinations if d.strip()),
            **kwargs,  # type: ignore[arg-type]
        )

    def in_scope(
        self, origin_province: str, origin_city: str | None, destination_province: str,
        destination_city: str | None = None,
    ) -> bool:
        """Origins and destinations are each configured as provinces or cities (``*`` for all)."""
        return _matches(self.priority_origins, origin_province, origin_city) and _matches(
            self.destinations, destination_province, destination_city
        )


def _matches(places: frozenset[str], province: str, city: str | None) -> bool:
    return "*" in places or province.lower() in places or (city is not None and city.lower() in places)


@dataclass(frozen=True, slots=True)
class Choice:
    action: Action
    why: Why
    propensity: float


def uniform(seed: str, parcel_id: str) -> float:
    """A reproducible draw in [0, 1) per parcel, so a replay explores the same parcels."""
    digest = hashlib.blake2b(f"{seed}:{parcel_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class ScoreWindow:
    """The last ``size`` scores, kept sorted as well, so any quantile is one index away."""

    def __init__(self, size: int = WINDOW, initial: list[float] | None = None) -> None:
        self.size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []
        for score in (initial or [])[-size:]:
            self.add(score)

    def __len__(self) -> int:
        return len(self._order)

    def add(self, score: float) -> None:
        if len(self._order) == self.size:
            oldest = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._order.append(score)
        bisect.insort(self._sorted, score)

    def clear(self) -> None:
        self._order.clear()
        self._sorted.clear()

    def upper_quantile(self, share: float) -> float:
        """The score above which ``share`` of the window lies (inf when nothing is to be flagged)."""
        if share <= 0.0 or not self._sorted:
            return math.inf if share <= 0.0 else 0.0
        if share >= 1.0:
            return -math.inf
        index = min(len(self._sorted) - 1, int(len(self._sorted) * (1.0 - share)))
        return self._sorted[index]


class HubBudget:
    """One hub's screening budget for the current hour, paced so flags track capacity."""

    def __init__(self, config: PolicyConfig, hub_id: str, reference_scores: list[float]) -> None:
        self.config = config
        self.hub_id = hub_id
        self.capacity = config.hub_capacity_per_hour.get(hub_id)
        self.capacity_fraction = 1.0  # this scorer's share of the hub's traffic (its share of partitions)
        self.scores = ScoreWindow(WINDOW, reference_scores)
        self.hour: int | None = None
        self.in_hour = 0
        self.flagged_in_hour = 0
        self.rules_in_hour = 0
        self.elapsed = 0.0  # fraction of the current hour gone, in event time
        self.profile: dict[int, float] = {}  # usual in-scope volume per hour of day (0-23)
        self.last_hour_volume: float | None = None
        self.rule_rate = 0.0
        self.history: list[tuple[int, int, int]] = []  # (hour, in-scope parcels, flagged), for reports and tests

    # --- the clock ------------------------------------------------------------------------------
    def advance(self, at: float) -> None:
        """Count one in-scope parcel at event time ``at`` (epoch seconds); late parcels count now."""
        hour = int(at // HOUR_S)
        if self.hour is None or hour > self.hour:
            if self.hour is not None:
                self._close_hour()
            self.hour, self.in_hour, self.flagged_in_hour, self.rules_in_hour = hour, 0, 0, 0
        if hour == self.hour:
            self.elapsed = max(self.elapsed if self.in_hour else 0.0, (at - hour * HOUR_S) / HOUR_S)
        self.in_hour += 1

    def _close_hour(self) -> None:
        assert self.hour is not None
        volume = float(self.in_hour)
        slot = _hour_of_day(self.hour)
        usual = self.profile.get(slot)
        self.profile[slot] = volume if usual is None else (1 - PROFILE_EWMA) * usual + PROFILE_EWMA * volume
        self.last_hour_volume = volume
        self.history.append((self.hour, self.in_hour, self.flagged_in_hour))
        del self.history[:-48]

    # --- how many to flag -----------------------------------------------------------------------
    def hour_capacity(self) -> float:
        """Flags allowed this hour: the hub's capacity (this scorer's share of it), or a share of volume."""
        if self.capacity is None:
            return self.config.capacity_share * self.expected_hour()
        return self.capacity * self.capacity_fraction

    def expected_hour(self) -> float:
        """In-scope parcels expected in the whole current hour: usual volume blended with the pace so far."""
        assert self.hour is not None
        f = min(max(self.elapsed, 1.0 / 60.0), 1.0)
        usual = self.profile.get(_hour_of_day(self.hour), self.last_hour_volume)
        pace = self.in_hour / f  # the whole hour at the rate seen so far
        return max(float(self.in_hour), pace if usual is None else (1 - f) * usual + f * pace)

    def expected_remaining(self) -> float:
        return max(0.0, self.expected_hour() - self.in_hour)

    def target_share(self) -> float:
        """Share of the parcels not hit by a rule to flag from now on (model and exploration together)."""
        budget = self.hour_capacity() - self.flagged_in_hour
        if budget <= 0:
            return 0.0
        # Near the end of an hour the remaining volume is tiny and noisy: spread what capacity is left
        # over at least a tenth of the hour's volume rather than flag everything at once.
        remaining = max(self.expected_remaining(), 0.1 * self.expected_hour(), 1.0)
        rules_expected = self.rule_rate * remaining
        return min(1.0, max(0.0, (budget - rules_expected) / ((1 - self.rule_rate) * remaining)))

    def at_capacity(self) -> bool:
        return self.flagged_in_hour >= self.hour_capacity()

    def note_rule(self, hit: bool) -> None:
        self.rule_rate += RULE_RATE_EWMA * ((1.0 if hit else 0.0) - self.rule_rate)
        if hit:
            self.rules_in_hour += 1


def _hour_of_day(hour: int) -> int:
    return int((hour * HOUR_S + UTC8_S) // HOUR_S) % 24


class DecisionPolicy:
    """Chooses SCREEN or RELEASE for in-scope parcels, one hub budget per hub."""

    def __init__(self, config: PolicyConfig, reference_scores: list[float] | None = None) -> None:
        self.config = config
        self.reference_scores = list(reference_scores or [])
        self.budgets: dict[str, HubBudget] = {}
        self.capacity_fraction = 1.0

    def reset_scores(self, reference_scores: list[float]) -> None:
        """A new model scores on its own scale: restart each hub's threshold window from its reference."""
        self.reference_scores = list(reference_scores)
        for budget in self.budgets.values():
            budget.scores = ScoreWindow(WINDOW, self.reference_scores)

    def set_capacity_fraction(self, fraction: float) -> None:
        """With several scorers in a group, each owns this share of every hub's traffic and capacity."""
        self.capacity_fraction = min(1.0, max(0.0, fraction))
        for budget in self.budgets.values():
            budget.capacity_fraction = self.capacity_fraction

    def budget(self, hub_id: str) -> HubBudget:
        budget = self.budgets.get(hub_id)
        if budget is None:
            budget = self.budgets[hub_id] = HubBudget(self.config, hub_id, self.reference_scores)
            budget.capacity_fraction = self.capacity_fraction
        return budget

    def choose(
        self, parcel_id: str, hub_id: str, at: float, score: float | None, rule_hit: bool, model_ready: bool
    ) -> Choice:
        """The decision for one in-scope parcel at event time ``at`` (epoch seconds)."""
        budget = self.budget(hub_id)
        budget.advance(at)
        budget.note_rule(rule_hit)
        if rule_hit:  # never starved: a rule hit is flagged even when the hour's capacity is used up
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "rule", 1.0)
        if not model_ready or score is None:  # the old 100% policy while no model can be loaded
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "fail_safe", 1.0)
        share = 0.0 if budget.at_capacity() else budget.target_share()
        model_share = share * (1 - self.config.exploration_share)
        threshold = budget.scores.upper_quantile(model_share)
        budget.scores.add(score)
        if model_share > 0 and score >= threshold:
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "model", 1.0)
        # Explore among the parcels the model did not take, so that model plus exploration flags `share`.
        explore = min(1.0, share * self.config.exploration_share / max(1e-9, 1 - model_share)) if share else 0.0
        if explore > 0 and uniform(self.config.seed, parcel_id) < explore:
            budget.flagged_in_hour += 1
            return Choice("SCREEN", "exploration", explore)
        return Choice("RELEASE", "model", explore)
