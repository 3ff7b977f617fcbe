"""Risk in a form a screener can act on: a parcel's place among its hub's parcels of the day, and how many times
the day's average risk it carries ("3rd highest of 412 today · 8.2× the hub's average").

A calibrated probability ("model risk 0.4%") reads as harmless to a person even when it is the day's riskiest
parcel; its rank does not. The raw score and the selection probability stay on the analysts' views.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, tzinfo

from pydantic import BaseModel, Field

from scoring.store import Store
from scoring.store.rows import ScoreScale

HIGH_RISK_SHARE = 0.01  # the day's top 1% by risk (and every hard-rule hit) count as high risk for the busy line


class RiskPlace(BaseModel):
    rank: int = Field(description="1 is the day's highest risk at this hub")
    of: int = Field(description="parcels scored at this hub that day")
    times_average: float | None = Field(description="the parcel's risk over the day's average risk at this hub")
    high: bool = Field(description="a hard-rule hit, or in the day's top 1% by risk: worth a screener's attention now")
    text: str = Field(description="e.g. 3rd highest of 412 today · 8.2× the hub's average")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def day_of(at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The hub-local calendar day containing ``at``, as a UTC range [start, end)."""
    local = at.astimezone(zone).date()
    start = datetime.combine(local, time(), zone)
    return start.astimezone(UTC), datetime.combine(local + timedelta(days=1), time(), zone).astimezone(UTC)


class DayScale:
    """One hub-local day of a hub's scores, read once, placing any parcel scored at or above ``floor``."""

    def __init__(self, store: Store, hub_id: str, zone: tzinfo, at: datetime, floor: float | None,
                 day_word: str = "today") -> None:
        start, end = day_of(at, zone)
        self.scale: ScoreScale = store.queue.score_scale(hub_id, start, end, floor)
        self.day_word = day_word

    @classmethod
    def for_scores(cls, store: Store, hub_id: str, zone: tzinfo, at: datetime, scores: Iterable[float | None],
                   day_word: str = "today") -> DayScale:
        known = [s for s in scores if s is not None]
        return cls(store, hub_id, zone, at, min(known) if known else None, day_word)

    def place(self, score: float | None, why: str) -> RiskPlace | None:
        scale = self.scale
        if score is None or not scale.count:
            return None
        rank = min(scale.rank(score), scale.count)
        times = score / scale.mean if scale.mean else None
        high = why == "rule" or rank <= max(1, math.ceil(HIGH_RISK_SHARE * scale.count))
        text = f"{ordinal(rank)} highest of {scale.count} {self.day_word}"
        if times is not None:
            text += f" · {times:.1f}× the hub's average" if times < 10 else f" · {times:.0f}× the hub's average"
        return RiskPlace(rank=rank, of=scale.count, times_average=times, high=high, text=text)
