"""Entity history: how often, since when and how recently a sender or recipient has been seen, and
how often its parcels were screened and found to carry contraband (seized).

One code path for serving and training: the scorer loads the stats of a batch's entities from the
store into a ``HistoryState``, observes each manifest in order and writes the changed stats back;
a bootstrap replays a whole labelled history through a ``HistoryState`` that starts empty and
then saves everything, so live scoring continues exactly where the history ends.
Every feature is read *before* the parcel itself is counted: a parcel never sees its own future.
Outcomes arrive after decisions: ``record_outcome`` counts a screening or a seizure into the
entities of the parcel it was about (the store calls it when an outcome is recorded, the bootstrap
replay when the outcome's time has come), so only parcels decided after that see it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BURST_TAU_S = 24 * 3600.0  # decay of the "recent parcels" counter: about one day


@dataclass(slots=True)
class EntityStat:
    """Running stats of one hashed entity (account, phone, address) or sender-recipient pair."""

    count: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    burst: float = 0.0
    partners: int = 0
    screened: int = 0  # parcels of this entity screened so far (outcome recorded)
    seized: int = 0  # of which contraband, or contraband surfaced later (late label)

    def burst_at(self, at: float) -> float:
        if self.count == 0:
            return 0.0
        return self.burst * math.exp(-max(0.0, at - self.last_seen) / BURST_TAU_S)


@dataclass(frozen=True, slots=True)
class EntityKeys:
    """Keyed hashes of the entities a parcel touches; None where the manifest lacks the field."""

    sender_account: str | None
    sender_phone: str | None
    sender_id: str | None
    recipient_phone: str | None
    recipient_address: str | None
    stats: tuple[str, ...] = ()  # keys of the model's field stats (models.field_stats), counted and credited alike

    @property
    def pair(self) -> str | None:
        sender = self.sender_account or self.sender_phone or self.sender_id
        if sender is None or self.recipient_address is None:
            return None
        return f"pair:{sender}>{self.recipient_address}"

    def all(self) -> list[str]:
        keys = [
            self.sender_account, self.sender_phone, self.sender_id,
            self.recipient_phone, self.recipient_address, self.pair,
        ]
        return [key for key in keys if key is not None] + list(self.stats)


HISTORY_FEATURES_V1 = [
    "sender_account_prior",
    "sender_account_days_known",
    "sender_phone_prior",
    "sender_id_prior",
    "recipient_phone_prior",
    "recipient_address_prior",
    "recipient_distinct_senders",
    "recipient_recent_parcels",
    "pair_prior",
]
# Added in feature version 2: what screening found on the entities' earlier parcels.
OUTCOME_FEATURES = [
    "sender_screened",
    "sender_seized",
    "recipient_screened",
    "recipient_seized",
    "pair_seized",
]
HISTORY_FEATURES = HISTORY_FEATURES_V1 + OUTCOME_FEATURES


@dataclass
class HistoryState:
    """A mutable window onto entity stats; ``dirty`` names what must be written back."""

    stats: dict[str, EntityStat] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    # (count, partners) of each key as this state last read or wrote them: a write adds only what was
    # counted since, so scorers sharing an entity add up rather than overwrite each other.
    base: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Outcome counts (screened, seized) of the field-stat keys as of a moment (``freeze``): what a model
    # trained up to then would see while no outcome reaches it; training validates on such rows.
    frozen: dict[str, tuple[int, int]] | None = None

    @classmethod
    def loaded(cls, stats: dict[str, EntityStat]) -> HistoryState:
        state = cls()
        state.take(stats)
        return state

    def take(self, stats: dict[str, EntityStat]) -> None:
        """Add stats fresh from the store."""
        self.stats.update(stats)
        self.base.update({key: (stat.count, stat.partners) for key, stat in stats.items()})

    def written(self) -> None:
        """What was dirty has been added to the store: count from here on."""
        for key in self.dirty:
            stat = self.stats[key]
            self.base[key] = (stat.count, stat.partners)
        self.dirty.clear()

    def freeze(self) -> None:
        """Snapshot the field-stat keys' outcome counts (``frozen``); later outcomes do not change it."""
        self.frozen = {k: (s.screened, s.seized) for k, s in self.stats.items() if k.startswith("s:")}

    def seen_counts(self, keys: list[str]) -> dict[str, int]:
        return {k: stat.count for k in keys if (stat := self.stats.get(k)) is not None}

    def found_counts(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        return {k: (stat.screened, stat.seized) for k in keys if (stat := self.stats.get(k)) is not None}

    def get(self, key: str | None) -> EntityStat | None:
        return None if key is None else self.stats.get(key)

    def observe(self, keys: EntityKeys, at: float) -> list[float]:
        """History features as of ``at`` (epoch seconds), then count this parcel in."""
        features = self._read(keys, at)
        self._count(keys, at)
        return features

    def _read(self, keys: EntityKeys, at: float) -> list[float]:
        def prior(key: str | None) -> float:
            stat = self.get(key)
            return float(stat.count) if stat else (math.nan if key is None else 0.0)

        def most(names: tuple[str | None, ...], attribute: str) -> float:
            present = [key for key in names if key is not None]
            if not present:
                return math.nan
            return float(max((getattr(stat, attribute) for k in present if (stat := self.stats.get(k))), default=0))

        account = self.get(keys.sender_account)
        address = self.get(keys.recipient_address)
        days_known = (at - account.first_seen) / 86400.0 if account and account.count else math.nan
        senders = (keys.sender_account, keys.sender_phone, keys.sender_id)
        recipients = (keys.recipient_phone, keys.recipient_address)
        return [
            prior(keys.sender_account),
            days_known,
            prior(keys.sender_phone),
            prior(keys.sender_id),
            prior(keys.recipient_phone),
            prior(keys.recipient_address),
            float(address.partners) if address else 0.0,
            address.burst_at(at) if address else 0.0,
            prior(keys.pair),
            most(senders, "screened"),
            most(senders, "seized"),
            most(recipients, "screened"),
            most(recipients, "seized"),
            most((keys.pair,), "seized"),
        ]

    def _count(self, keys: EntityKeys, at: float) -> None:
        pair = keys.pair
        new_pair = pair is not None and self.stats.get(pair, EntityStat()).count == 0
        for key in keys.all():
            stat = self.stats.get(key)
            if stat is None:
                stat = self.stats[key] = EntityStat(first_seen=at)
            stat.burst = stat.burst_at(at) + 1.0
            stat.count += 1
            stat.last_seen = max(stat.last_seen, at)
            self.dirty.add(key)
        if new_pair and keys.recipient_address is not None:
            self.stats[keys.recipient_address].partners += 1

    def record_outcome(self, keys: EntityKeys, screened: int, seized: int, at: float | None = None) -> None:
        """Count a change in what is known of one parcel (+1 screened, +1 seized; -1 on a correction)."""
        for key in keys.all():
            stat = self.stats.get(key)
            if stat is None:
                stat = self.stats[key] = EntityStat(first_seen=at or 0.0, last_seen=at or 0.0)
            stat.screened = max(0, stat.screened + screened)
            stat.seized = max(0, stat.seized + seized)
            self.dirty.add(key)

    def merge_outcomes(self, loaded: dict[str, EntityStat]) -> None:
        """Take the outcome counts of ``loaded`` (fresh from the store) into a cached state."""
        for key, fresh in loaded.items():
            stat = self.stats.get(key)
            if stat is None:
                self.stats[key] = fresh
            else:
                stat.screened, stat.seized = fresh.screened, fresh.seized
