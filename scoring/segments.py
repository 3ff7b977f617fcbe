"""Segments of the traffic, as of event time: what screening has seen of each, and which are surging.

A segment is a combination of a parcel's plain fields: origin city × category, category × address type,
the three together, and (for volume only) hub × origin city × category. A new route, a new cover or a
hub whose mix shifts shows up here before any label does: as a segment screening has rarely visited
(``SegmentScreenings``) and as a segment whose volume jumps against its own history (``SegmentVolumes``).
The policy spends its exploration share on both; neither ever decides a parcel on its own.
"""

from __future__ import annotations

import math

from models.manifest import Manifest

SEGMENT_GAIN = 4.0  # extra exploration weight of a parcel in a segment no screening has yet seen
SEGMENT_HALF_LIFE_S = 7 * 86400.0  # screenings of a segment count for less as they age: a mix that shifts reopens
SURGE_HISTORY_DAYS = 14  # a segment's own history: two weeks before yesterday, so weekly rhythms are in it
SURGE_MIN_HISTORY_DAYS = 3  # no history to compare with before this many days of traffic
SURGE_Z = 3.0  # recent count this many Poisson deviations over what the history predicts ...
SURGE_RATIO = 2.5  # ... and this many times it: the big segments' daily wobble is never a surge
SURGE_GAIN = 200.0  # exploration weight of a parcel in a surging segment (the draw stays within its share)


def segments(manifest: Manifest) -> tuple[str, ...]:
    """The segments a parcel belongs to: origin city × category, category × address type, all three."""
    city = (manifest.origin.city or "").lower()
    category = (manifest.contents.category or "").lower()
    address = (manifest.destination.address_type or "").lower()
    return f"oc:{city}|{category}", f"ca:{category}|{address}", f"oca:{city}|{category}|{address}"


def volume_segments(manifest: Manifest, screening: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The segments whose volume is watched: ``segments`` (pass them when already made) plus hub × origin
    city × category (a hub's mix)."""
    city = (manifest.origin.city or "").lower()
    category = (manifest.contents.category or "").lower()
    return (*(screening or segments(manifest)), f"hoc:{manifest.hub_id.lower()}|{city}|{category}")


def _decayed(count: float, since: float, at: float, half_life: float) -> float:
    return count * 0.5 ** (max(0.0, at - since) / half_life)


class SegmentScreenings:
    """Screenings per segment as of event time, decayed with ``SEGMENT_HALF_LIFE_S``: what screening has seen.

    Counted when a parcel is flagged (its outcome follows within hours), so a burst of a new route is
    known after its first screenings rather than after its outcomes are recorded.
    """

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, float]] = {}  # segment -> (count, as of epoch seconds)

    def seen(self, segment: str, at: float) -> float:
        count, when = self._counts.get(segment, (0.0, at))
        return _decayed(count, when, at, SEGMENT_HALF_LIFE_S)

    def screened(self, keys: tuple[str, ...], at: float) -> None:
        for key in keys:
            self._counts[key] = (self.seen(key, at) + 1.0, at)

    def novelty(self, keys: tuple[str, ...], at: float) -> float:
        """1 + ``SEGMENT_GAIN`` for a segment never screened, towards 1 as its least seen segment is screened."""
        if not keys:
            return 1.0
        least = min(self.seen(key, at) for key in keys)
        return 1.0 + SEGMENT_GAIN / math.sqrt(1.0 + least)


DAY_S = 86400.0


class SegmentVolumes:
    """In-scope parcels per segment and event-time day, to tell a surge from a segment's usual.

    The recent count (yesterday and today so far) is compared with what the segment's own history
    (the ``SURGE_HISTORY_DAYS`` days before) predicts for the same span. A segment is surging when the
    recent count is both ``SURGE_Z`` Poisson deviations and ``SURGE_RATIO`` times over that: a new route
    of a few parcels a day in a segment that used to see one every few days. With fewer than
    ``SURGE_MIN_HISTORY_DAYS`` days of traffic behind it, nothing surges.
    """

    def __init__(self) -> None:
        self._counts: dict[str, dict[int, int]] = {}  # segment -> {event-time day: parcels}
        self._first_day: int | None = None
        self._verdicts: dict[str, tuple[int, bool]] = {}  # segment -> (event-time hour, surging then)

    def add(self, keys: tuple[str, ...], at: float) -> None:
        day = int(at // DAY_S)
        if self._first_day is None or day < self._first_day:
            self._first_day = day
        for key in keys:
            days = self._counts.setdefault(key, {})
            days[day] = days.get(day, 0) + 1
            if len(days) > SURGE_HISTORY_DAYS + 4:  # forget what no window reads any more
                for old in [d for d in days if d < day - SURGE_HISTORY_DAYS - 1]:
                    del days[old]

    def surge(self, key: str, at: float) -> float:
        """The recent count's excess over the segment's history in Poisson deviations (0 when not surging)."""
        days = self._counts.get(key)
        if days is None or self._first_day is None:
            return 0.0
        today = int(at // DAY_S)
        history_days = min(SURGE_HISTORY_DAYS, today - 1 - self._first_day)
        if history_days < SURGE_MIN_HISTORY_DAYS:
            return 0.0
        recent = sum(count for day, count in days.items() if today - 1 <= day <= today)
        history = sum(count for day, count in days.items() if today - 1 - history_days <= day < today - 1)
        expected = history / history_days * (1.0 + at / DAY_S - today)  # over yesterday and today so far
        if recent < SURGE_RATIO * expected:
            return 0.0
        z = (recent - expected) / math.sqrt(expected + 1.0)
        return z if z >= SURGE_Z else 0.0

    def weight(self, keys: tuple[str, ...], at: float) -> float:
        """``SURGE_GAIN`` for a parcel in any surging segment, else 1.

        Each segment's verdict is kept for the event-time hour it was reached in: a surge is judged over
        days, and the scorer's hot path then pays a dictionary lookup per segment, not a sum over its days.
        """
        hour = int(at // 3600.0)
        surging = False
        for key in keys:
            known = self._verdicts.get(key)
            if known is None or known[0] != hour:
                known = self._verdicts[key] = (hour, self.surge(key, at) > 0.0)
            surging = surging or known[1]
        return SURGE_GAIN if surging else 1.0
