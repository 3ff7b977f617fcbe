"""Entity history: how often, since when and how recently a sender or recipient has been seen.

One code path for serving and training: the scorer loads the stats of a batch's entities from the
store into a ``HistoryState``, observes each manifest in order and writes the changed stats back;
a bootstrap replays a whole labelled history through a ``HistoryState`` that starts empty and
then saves everything, so live scoring continues exactly where the history ends.
Every feature is read *before* the parcel itself is counted: a parcel never sees its own future.
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
        return [key for key in keys if key is not None]


HISTORY_FEATURES = [
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


@dataclass
class HistoryState:
    """A mutable window onto entity stats; ``dirty`` names what must be written back."""

    stats: dict[str, EntityStat] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

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

        account = self.get(keys.sender_account)
        address = self.get(keys.recipient_address)
        days_known = (at - account.first_seen) / 86400.0 if account and account.count else math.nan
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
