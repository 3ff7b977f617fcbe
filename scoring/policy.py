"""The decision policy: scope, hard rules, a capacity-tracking threshold, exploration, fail-safe.

Each hub has an X-ray line with a capacity (parcels per hour) and a queue in front of it, so capacity
left unused in a quiet hour is not lost: the budget is a token bucket that refills at the hourly
capacity (or, without one, at ``capacity_share`` of every in-scope parcel) and holds at most
``burst_hours`` of it. The model flags a parcel when its score clears the quantile of the hub's
recent scores (a window of a few days, so the cut-off is stable) at the share the capacity allows;
that share leans up when the bucket fills and down as it empties, so over the day flags track
capacity while a high-risk parcel arriving in a busy hour still finds room. Rule hits are always
flagged, even past capacity; the model and exploration stop when the bucket is empty.

Exploration spends ``exploration_share`` of the budget on parcels the model did not take, with a
probability that rises with the parcel's score rank (a floor keeps every parcel possible), so it
lands where a new pattern half-resembles known risk rather than on the clearly benign bulk, and that
is multiplied by the parcel's novelty: up to 1 + ``NOVELTY_GAIN`` when no screening has yet seen its
sender or recipient (explore where the labels know least). With ``exploration="segments"`` (the default)
it is also multiplied by how little screening has seen of the parcel's segments, as of the decision:
its origin city × category, category × address type and the three together (a new route is a new
combination of fields each common on its own; a new cover or a hub whose mix shifts fills segments
screening rarely visited), and by far more when one of its segments is surging against its own history
(``scoring.segments.SegmentVolumes``: a route of a few parcels a day where one came every few days), so
the few draws a day land on the new thing while it is new. ``exploration="score"`` is the rank- and
party-weighted exploration alone, as before. The weight is divided by its running mean over the hub's
recent parcels, so exploration keeps its share of the budget however novelty is spread.

Time here is event time (the manifest's ``accepted_at``), so a replayed month or a simulation behaves
like the live stream did. Every decision records the probability with which the parcel was chosen
for screening (its propensity), which is what lets training and evaluation undo the selection bias.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from dataclasses import dataclass, field, replace

from models.manifest import Action, Manifest, Why
from scoring.segments import SegmentScreenings, SegmentVolumes

WINDOW = 8000  # recent scores per hub the threshold is read from (a few days of a hub's traffic)
BURST_HOURS = 24.0  # how much unused capacity the queue can carry forward: a day of capacity
FILL_GAIN = 2.0  # how strongly the share leans with the bucket's fill (e**±1 at empty/full)
COLD_START_PARCELS = 100  # parcels a new hub's first hour needs before its pace sets the share
PROFILE_EWMA = 0.3  # how fast a hub's usual volume per hour of day follows change
RULE_RATE_EWMA = 0.02  # per parcel: the rule-hit rate's memory is a few hundred parcels
EXPLORE_POWER = 8.0  # exploration weight grows as rank**power (most of it just below the threshold) ...
EXPLORE_FLOOR = 0.25  # ... on top of this share spread evenly, so every parcel can be explored
NOVELTY_GAIN = 4.0  # extra exploration weight of a parcel whose parties no screening has yet seen
EXPLORATION_MODES = ("segments", "score")
EXPLORE_MEAN_EWMA = 0.001  # per parcel: the running mean weight the draw is normalised by (~1,000 parcels)
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
    burst_hours: float = BURST_HOURS
    exploration: str = "segments"  # EXPLORATION_MODES: also weigh by how little screening saw the segments

    def __post_init__(self) -> None:
        if self.exploration not in EXPLORATION_MODES:
            raise ValueError(f"exploration must be one of {', '.join(EXPLORATION_MODES)}, not {self.exploration!r}")

    @classmethod
    def build(cls, priority_origins: list[str], destinations: list[str], **kwargs: object) -> PolicyConfig:
        return cls(
            priority_origins=frozenset(o.strip().lower() for o in priority_origins if o.strip()),
            destinations=frozenset(d.strip().lower() for d in destinations if d.strip()),
            **kwargs,  # type: ignore[arg-type]
        )

    def in_scope(self, manifest: Manifest) -> bool:
        """The one scope rule, for serving, the bootstrap replay and the simulator alike.

        Origins and destinations are each configured as provinces or cities (``*`` for all).
        """
        origin, destination = manifest.origin, manifest.destination
        return _matches(self.priority_origins, origin.province, origin.city) and _matches(
            self.destinations, destination.province, destination.city
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

    def rank(self, score: float) -> float:
        """Share of the window below ``score`` (0.5 when the window is empty)."""
        if not self._sorted:
            return 0.5
        return bisect.bisect_left(self._sorted, score) / len(self._sorted)


class HubBudget:
    """One hub's screening budget: a token bucket refilled at capacity, plus per-hour bookkeeping."""

    def __init__(self, config: PolicyConfig, hub_id: str, reference_scores: list[float]) -> None:
        self.config = config
        self.hub_id = hub_id
        self.capacity = config.hub_capacity_per_hour.get(hub_id)
        self.capacity_fraction = 1.0  # this scorer's share of the hub's traffic (its share of partitions)
        self.scores = ScoreWindow(WINDOW, reference_scores)
        self.clock: float | None = None  # latest event time seen (epoch seconds)
        # The bucket's level, counted from half full: a new hub (or a bucket whose size is still being
        # learnt from the hub's volume) starts half full, with room to absorb a burst either way.
        self.level: float | None = None
        self.hour: int | None = None
        self.in_hour = 0
        self.flagged_in_hour = 0
        self.rules_in_hour = 0
        self.profile: dict[int, float] = {}  # usual in-scope volume per hour of day (0-23)
        self.usual_hour: float | None = None  # the profile's mean, kept as hours close
        self.rule_rate = 0.0
        # Running mean of the exploration weight over the parcels the model did not take: dividing by it
        # keeps exploration at its share of the budget however novelty is spread across the traffic. Until
        # the EWMA has ~1,000 parcels behind it, it is the plain mean of the weights so far: started at 1, a
        # fresh scorer (every restart) overspent exploration on its first thousand parcels while novelty was high.
        self.explore_mean = 1.0
        self.explore_seen = 0
        self.history: list[tuple[int, int, int]] = []  # (hour, in-scope parcels, flagged), for reports and tests

    # --- the clock and the bucket ---------------------------------------------------------------
    def advance(self, at: float) -> None:
        """Count one in-scope parcel at event time ``at`` (epoch seconds) and refill the bucket.

        A late parcel (event time before the latest seen) refills nothing and counts in the current hour.
        """
        hour = int(at // HOUR_S)
        if self.hour is None or hour > self.hour:
            if self.hour is not None:
                self._close_hour()
            self.hour, self.in_hour, self.flagged_in_hour, self.rules_in_hour = hour, 0, 0, 0
        self.in_hour += 1
        if self.level is None:
            self.level = 0.0
        elif self.capacity is not None and self.clock is not None and at > self.clock:
            self.level += self.capacity * self.capacity_fraction * (at - self.clock) / HOUR_S
        if self.capacity is None:
            self.level += self.config.capacity_share
        self.level = min(self.level, self.burst() / 2)  # a full queue: unused capacity beyond it is lost
        self.clock = at if self.clock is None else max(self.clock, at)

    @property
    def tokens(self) -> float | None:
        """Screenings the line can still take; None before the hub's first parcel."""
        return None if self.level is None else self.burst() / 2 + self.level

    def _close_hour(self) -> None:
        assert self.hour is not None
        slot = _hour_of_day(self.hour)
        usual = self.profile.get(slot)
        volume = float(self.in_hour)
        self.profile[slot] = volume if usual is None else (1 - PROFILE_EWMA) * usual + PROFILE_EWMA * volume
        self.usual_hour = max(1.0, sum(self.profile.values()) / len(self.profile))
        self.history.append((self.hour, self.in_hour, self.flagged_in_hour))
        del self.history[:-48]

    def hourly_volume(self) -> float:
        """Usual in-scope parcels per hour, averaged over the day (before a first hour has closed: the pace
        of the current hour so far)."""
        if self.usual_hour is not None:
            return self.usual_hour
        if self.hour is None or self.clock is None:
            return 1.0
        elapsed = min(1.0, max(1.0 / 12.0, self.clock / HOUR_S - self.hour))  # at least five minutes
        return max(1.0, self.in_hour / elapsed)

    def hour_capacity(self) -> float:
        """The refill per hour: the hub's capacity (this scorer's share of it), or a share of its volume."""
        if self.capacity is None:
            return self.config.capacity_share * self.hourly_volume()
        return self.capacity * self.capacity_fraction

    def burst(self) -> float:
        """The most the queue carries forward: ``burst_hours`` of capacity (at least one screening)."""
        return max(1.0, self.config.burst_hours * self.hour_capacity())

    # --- how many to flag -----------------------------------------------------------------------
    def base_share(self) -> float:
        """The long-run share of in-scope parcels capacity allows."""
        if self.capacity is None or (self.usual_hour is None and self.in_hour < COLD_START_PARCELS):
            return self.config.capacity_share  # before the hub's volume is known: the configured share
        return min(1.0, self.hour_capacity() / self.hourly_volume())

    def target_share(self) -> float:
        """Share of the parcels not hit by a rule to flag now (model and exploration together)."""
        tokens = self.tokens
        if tokens is None or tokens < 1.0:
            return 0.0
        share = (self.base_share() - self.rule_rate) / max(1e-9, 1 - self.rule_rate)
        fill = tokens / self.burst()
        return min(1.0, max(0.0, share * math.exp(FILL_GAIN * (fill - 0.5))))

    def at_capacity(self) -> bool:
        tokens = self.tokens
        return tokens is None or tokens < 1.0

    def spend(self) -> None:
        """One parcel flagged: it takes a place in the line (rule hits may run the bucket below empty)."""
        self.flagged_in_hour += 1
        if self.level is not None:
            self.level -= 1.0

    def note_rule(self, hit: bool) -> None:
        self.rule_rate += RULE_RATE_EWMA * ((1.0 if hit else 0.0) - self.rule_rate)
        if hit:
            self.rules_in_hour += 1


def _hour_of_day(hour: int) -> int:
    return int((hour * HOUR_S + UTC8_S) // HOUR_S) % 24


def explore_weight(rank: float) -> float:
    """Exploration weight of a parcel at score rank ``rank`` (0 lowest, 1 highest); averages 1 over ranks."""
    return EXPLORE_FLOOR + (1 - EXPLORE_FLOOR) * (EXPLORE_POWER + 1) * rank**EXPLORE_POWER


def novelty(labels_known: float) -> float:
    """How little screening knows of a parcel's parties: 1 + ``NOVELTY_GAIN`` when none of their parcels
    was ever screened, falling towards 1 as outcomes accumulate (``labels_known``: their screenings)."""
    known = labels_known if labels_known > 0 else 0.0  # NaN (no party to ask about) counts as unknown
    return 1.0 + NOVELTY_GAIN / (1.0 + known)


class DecisionPolicy:
    """Chooses SCREEN or RELEASE for in-scope parcels, one hub budget per hub."""

    def __init__(self, config: PolicyConfig, reference_scores: list[float] | None = None) -> None:
        self.config = config
        self.reference_scores = list(reference_scores or [])
        self.budgets: dict[str, HubBudget] = {}
        self.capacity_fraction = 1.0
        self.segments = SegmentScreenings()
        self.volumes = SegmentVolumes()

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

    def set_hub_capacities(self, per_hour: dict[str, int]) -> bool:
        """Replace the hubs' X-ray capacities (an admin changed one); True when any changed.

        Each hub's bucket keeps its level, so a change moves the refill rate from now on without
        forgetting what the line has queued.
        """
        if per_hour == self.config.hub_capacity_per_hour:
            return False
        self.config = replace(self.config, hub_capacity_per_hour=dict(per_hour))
        for hub_id, budget in self.budgets.items():
            budget.config = self.config
            budget.capacity = self.config.hub_capacity_per_hour.get(hub_id)
        return True

    def budget(self, hub_id: str) -> HubBudget:
        budget = self.budgets.get(hub_id)
        if budget is None:
            budget = self.budgets[hub_id] = HubBudget(self.config, hub_id, self.reference_scores)
            budget.capacity_fraction = self.capacity_fraction
        return budget

    def choose(
        self, parcel_id: str, hub_id: str, at: float, score: float | None, rule_hit: bool, model_ready: bool,
        novelty_weight: float = 1.0, segment_keys: tuple[str, ...] = (), volume_keys: tuple[str, ...] = (),
    ) -> Choice:
        """The decision for one in-scope parcel at event time ``at`` (epoch seconds).

        ``novelty_weight`` (at least 1: ``novelty`` of what is known of the parcel's parties) scales its
        exploration weight: explore where the labels know least. ``segment_keys`` (``segments`` of the
        manifest) are counted when the parcel is flagged and, in the "segments" mode, scale it too, as does a
        surge in the volume of any of ``volume_keys`` (``volume_segments``), which counts every parcel (in that
        mode only: nothing else reads the volumes).
        """
        if self.config.exploration == "segments":
            self.volumes.add(volume_keys, at)
        choice = self._choose(parcel_id, hub_id, at, score, rule_hit, model_ready, novelty_weight, segment_keys,
                              volume_keys)
        if choice.action == "SCREEN":
            self.segments.screened(segment_keys, at)
        return choice

    def _choose(
        self, parcel_id: str, hub_id: str, at: float, score: float | None, rule_hit: bool, model_ready: bool,
        novelty_weight: float, segment_keys: tuple[str, ...], volume_keys: tuple[str, ...],
    ) -> Choice:
        budget = self.budget(hub_id)
        budget.advance(at)
        budget.note_rule(rule_hit)
        if rule_hit:  # never starved: a rule hit is flagged even when the line is full
            budget.spend()
            return Choice("SCREEN", "rule", 1.0)
        if not model_ready or score is None:  # the old 100% policy while no model can be loaded
            budget.spend()
            return Choice("SCREEN", "fail_safe", 1.0)
        share = budget.target_share()
        explore_share = self.config.exploration_share
        model_share = share * (1 - explore_share)
        threshold = budget.scores.upper_quantile(model_share)
        rank = budget.scores.rank(score)
        budget.scores.add(score)
        if model_share > 0 and score >= threshold:
            budget.spend()
            return Choice("SCREEN", "model", 1.0)
        # Explore among the parcels the model did not take, so that model plus exploration flags `share`;
        # the probability leans towards the higher scores, and is exactly what is recorded.
        base = share * explore_share / max(1e-9, 1 - model_share)
        weight = explore_weight(min(rank, 1.0 - model_share) / max(1e-9, 1.0 - model_share)) * novelty_weight
        if self.config.exploration == "segments":
            weight *= self.segments.novelty(segment_keys, at) * self.volumes.weight(volume_keys, at)
        budget.explore_seen += 1
        if budget.explore_seen == 1:
            budget.explore_mean = weight  # the first parcel's own weight: nothing else is known yet
        explore = min(1.0, base * weight / budget.explore_mean)
        rate = max(EXPLORE_MEAN_EWMA, 1.0 / budget.explore_seen)
        budget.explore_mean += rate * (weight - budget.explore_mean)  # after the draw's probability
        if explore > 0 and uniform(self.config.seed, parcel_id) < explore:
            budget.spend()
            return Choice("SCREEN", "exploration", explore)
        return Choice("RELEASE", "model", explore)
