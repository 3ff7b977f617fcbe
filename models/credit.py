"""Outcome crediting: what a recorded outcome changes in the entity history of the parcel's parties.

Domain rules only; the store reads the stored manifest and the parcel's outcome rows, asks here what
to write, and writes it in the same transaction as the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from models import field_stats
from models.features import FIELD, FeatureBuilder
from models.history import EntityKeys, EntityStat, HistoryState

Found = tuple[int, int]  # (screened, seized), each 0 or 1


def found(rows: Iterable[tuple[str, str]]) -> Found:
    """(screened, seized) as 0/1 from a parcel's outcome rows, each (source, result)."""
    listed = list(rows)
    return (int(any(source == "xray" for source, _ in listed)),
            int(any(result == "contraband" for _, result in listed)))


@dataclass(frozen=True, slots=True)
class OutcomeCredit:
    """The change one outcome makes to every entity of a parcel: +1 screened, +1 seized (-1 on a correction)."""

    keys: EntityKeys
    screened: int
    seized: int
    at: float  # the parcel's acceptance time, for an entity not seen before

    def entity_keys(self) -> list[str]:
        return self.keys.all()

    def applied(self, stored: dict[str, EntityStat]) -> dict[str, EntityStat]:
        """The entity rows to write: ``stored`` (as read for ``entity_keys``) with this credit added."""
        state = HistoryState(stats=dict(stored))
        state.record_outcome(self.keys, self.screened, self.seized, self.at)
        return {k: state.stats[k] for k in state.dirty}


def credit_for(manifest: object, accepted_at: datetime, before: Found, after: Found,
               features: object = None) -> OutcomeCredit | None:
    """What moving a parcel's outcomes from ``before`` to ``after`` credits to its entities and to the field
    stats its logged feature row read; None when nothing changes or the parcel was never decided here
    (no stored manifest, no entities to credit)."""
    if after == before or not isinstance(manifest, dict):
        return None
    keys = FeatureBuilder.keys_from_redacted(manifest)
    if isinstance(features, dict):
        keys = replace(keys, stats=tuple(field_stats.keys_from_row(features, FIELD)))
    return OutcomeCredit(keys, after[0] - before[0], after[1] - before[1], accepted_at.timestamp())
