"""Risk in a form a screener can act on: a parcel's place among its hub's parcels of the same day, and how many
times that day's average risk it carries ("3rd highest of 412 today · 8.2× the hub's average").

A calibrated probability ("model risk 0.4%") reads as harmless to a person even when it is the day's riskiest
parcel; its rank does not. The raw score and the selection probability stay on the analysts' views. A parcel is
ranked within the hub-local day it was accepted on, so one that waited since yesterday is placed among
yesterday's parcels, and a day's scale is read once for every parcel of that day on a page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from pydantic import BaseModel, Field

from scoring.store import Store
from scoring.store.rows import ScoreScale, StoredDecision

HIGH_RISK_SHARE = 0.01  # the day's top 1% by risk (and every hard-rule hit) count as high risk for the busy line


class RiskPlace(BaseModel):
    rank: int = Field(description="1 is the day's highest risk at this hub")
    of: int = Field(description="parcels scored at this hub that day")
    times_average: float | None = Field(description="the parcel's risk over the day's average risk at this hub")
    high: bool = Field(description="in the day's top 1% by risk: worth a screener's attention now")
    text: str = Field(description="e.g. 3rd highest of 412 today · 8.2× the hub's average")
    rank_text: str = Field(description="e.g. 3rd highest of 412 today")
    times_text: str | None = Field(description="e.g. 8.2× the hub's average")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """A hub-local calendar day as a UTC range [start, end)."""
    start = datetime.combine(day, time(), zone)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)


def day_of(at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The hub-local calendar day containing ``at``, as a UTC range [start, end)."""
    return day_bounds(at.astimezone(zone).date(), zone)


def _accepted(row: StoredDecision) -> datetime | None:
    return row.accepted_at or row.decided_at


class HubDays:
    """The days (hub-local) a set of one hub's parcels were accepted on, each read once, to place those parcels."""

    def __init__(self, store: Store, hub_id: str, zone: tzinfo, rows: Iterable[StoredDecision],
                 now: datetime | None = None) -> None:
        self.zone = zone
        self.today = (now or datetime.now(UTC)).astimezone(zone).date()
        floors: dict[date, float] = {}
        for row in rows:
            at = _accepted(row)
            if at is not None and row.score is not None:
                day = at.astimezone(zone).date()
                floors[day] = min(floors.get(day, math.inf), row.score)
        self.scales: dict[date, ScoreScale] = {
            day: store.queue.score_scale(hub_id, *day_bounds(day, zone), floor) for day, floor in floors.items()}

    def _day_word(self, day: date) -> str:
        if day == self.today:
            return "today"
        if day == self.today - timedelta(days=1):
            return "yesterday"
        return f"on {day:%d %b}"

    def place(self, row: StoredDecision) -> RiskPlace | None:
        at = _accepted(row)
        if at is None or row.score is None:
            return None
        day = at.astimezone(self.zone).date()
        scale = self.scales.get(day)
        if scale is None or not scale.count:
            return None
        rank = min(scale.rank(row.score), scale.count)
        times = row.score / scale.mean if scale.mean else None
        rank_text = f"{ordinal(rank)} highest of {scale.count} {self._day_word(day)}"
        times_text = None if times is None else f"{times:.1f}× the hub's average" if times < 10 else \
            f"{times:.0f}× the hub's average"
        return RiskPlace(rank=rank, of=scale.count, times_average=times,
                         high=rank <= max(1, math.ceil(HIGH_RISK_SHARE * scale.count)),
                         text=" · ".join(t for t in (rank_text, times_text) if t), rank_text=rank_text,
                         times_text=times_text)
