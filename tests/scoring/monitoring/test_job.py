"""The monitoring job on each database: folding the log into hourly aggregates, and alerts once per closed
window, judged against the capacity in force (an admin's override included)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import select

from models.manifest import Outcome
from parcelguard.config import Settings
from scoring.db import as_utc, monitor_labels
from scoring.monitoring import fold, job, report
from scoring.store import Store
from scoring.store.aggregates import HourLabels, LabelledDecision, LabelSums
from tests.conftest import make_settings
from tests.scoring.api_support import HUB, OTHER_HUB, record

DAY = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)  # 2026-11-20 00:00 in Haikou


def _seed(store: Store, start: datetime, hours: int, per_hour: int, prefix: str) -> None:
    """``per_hour`` parcels an hour at each of two hubs, a quarter of them flagged by the model."""
    records = []
    for h in range(hours):
        for i in range(per_hour):
            at = start + timedelta(hours=h, minutes=i * 60 // per_hour)
            for hub in (HUB, OTHER_HUB):
                records.append(record(f"{prefix}-{hub}-{h}-{i}", hub_id=hub, action="SCREEN" if i % 4 == 0 else
                                      "RELEASE", accepted_at=at.isoformat()))
    assert store.decisions.record(records, {}) == len(records)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", hub_capacity_per_hour={})  # capacity: only what an admin sets


def test_alerts_come_once_per_closed_window_against_the_capacity_in_force(store: Store, settings: Settings) -> None:
    _seed(store, DAY, 24, 10, "d1")  # a whole day: 240 parcels a hub, 60 flagged
    _seed(store, DAY + timedelta(days=1), 6, 10, "d2")  # the next day, still open
    store.capacity.set(HUB, 3, "admin-zhao")  # 72 a day at HAK-MEILAN; none set at SYX-TIANYA (5% share: 12)

    first = job.run_once(settings, store)
    assert first.folded.decisions == 2 * 240 + 2 * 60 and first.judged["day"] == 1
    flag_alerts = {(a.scope, a.window_start) for a in first.alerts if a.kind == "flag_rate"}
    assert (OTHER_HUB, DAY) in flag_alerts, "60 flagged against 12 jams the lanes"
    assert (HUB, DAY) not in flag_alerts, "60 flagged against the admin's 72 is within capacity"
    assert all(a.window_end <= DAY + timedelta(days=1) for a in first.alerts), "the open day raises nothing"
    stored = {(a.key, a.last_seen_at) for a in store.alerts.recent(limit=100)}
    assert first.new_alerts == len(stored) > 0

    again = job.run_once(settings, store)
    assert again.judged == {} and again.new_alerts == 0 and again.folded.hours == 0
    assert {(a.key, a.last_seen_at) for a in store.alerts.recent(limit=100)} == stored

    built = report.run(settings, store, "day", since=DAY, until=DAY + timedelta(days=1))
    by_scope = {w.scope: w for w in built.windows}
    assert by_scope[HUB].capacity == 72 and by_scope[OTHER_HUB].capacity == pytest.approx(0.05 * 240)


def test_folding_counts_every_decision_once_and_refolds_an_hour_that_grew(store: Store, settings: Settings) -> None:
    _seed(store, DAY, 3, 8, "a")
    assert fold.stale_hours(store) == [DAY, DAY + timedelta(hours=1), DAY + timedelta(hours=2)]
    layouts = report.layouts(settings, report.registry_facts(settings))
    assert fold.fold(settings, store, layouts).decisions == 48
    assert fold.stale_hours(store) == [] and fold.fold(settings, store, layouts).hours == 0
    _seed(store, DAY + timedelta(hours=1, minutes=10), 1, 2, "late")  # a late batch lands in a folded hour
    assert fold.stale_hours(store) == [DAY + timedelta(hours=1)]
    fold.fold(settings, store, layouts)
    assert sum(store.aggregates.folded_per_hour().values()) == store.decisions.count() == 52
    assert fold.fold(settings, store, layouts, full=True).decisions == 0  # a full pass finds nothing stale
    assert fold.fold(settings, store, layouts, refold=True).decisions == 52  # a refold redoes every hour, same rows
    counts = store.aggregates.counts(DAY, DAY + timedelta(hours=3), HUB)
    assert sum(c.total for c in counts) == 26 and sum(sum((c.flagged_by_why or {}).values()) for c in counts) == 7


def test_label_sums_from_the_database_match_the_reports_own(store: Store) -> None:
    """The hit and miss rates a page reads (summed per hour by SQL) are those ``LabelSums.add`` counts."""
    records = [record(f"L{i}", hub_id=HUB if i % 3 else OTHER_HUB, action="SCREEN" if i % 2 else "RELEASE",
                      why=("model", "exploration", "out_of_scope")[i % 3] if i % 2 else "model",
                      accepted_at=(DAY + timedelta(minutes=7 * i)).isoformat()) for i in range(60)]
    assert store.decisions.record(records, {}) == 60
    expected: dict[tuple[datetime, str], LabelSums] = {}
    for i, r in enumerate(records):
        at = r.accepted_at
        d = r.decision
        if d.action == "SCREEN":
            result: Literal["clear", "contraband"] = "contraband" if i % 5 == 0 else "clear"
            store.outcomes.record(Outcome(parcel_id=d.parcel_id, screened_at=at, result=result), "s1")
        elif i % 4 == 0:
            result = "contraband"
            store.outcomes.record(Outcome(parcel_id=d.parcel_id, screened_at=at, result=result, source="late"),
                                  "police")
        else:
            continue
        late = d.action != "SCREEN"
        expected.setdefault((at.replace(minute=0, second=0, microsecond=0), d.hub_id), LabelSums()).add(
            LabelledDecision(at, d.hub_id, d.action, d.why, d.propensity, result == "contraband" or late, late))
    found = {(h.hour_start, h.hub_id): h.sums for h in store.aggregates.labels(DAY, DAY + timedelta(days=1))}
    assert found.keys() == expected.keys()
    for key, sums in expected.items():
        assert found[key].explored_ww == pytest.approx(sums.explored_ww) and found[key].late_hits == sums.late_hits
        assert (found[key].screened_hits, found[key].model_labelled) == (sums.screened_hits, sums.model_labelled)
        assert asdict(found[key]) == pytest.approx(asdict(sums))


def _rounded(sums: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 9) for k, v in sums.items()}  # SQL sums floats in its own order


def _by_hour(found: list[HourLabels]) -> dict[tuple[datetime, str], dict[str, float]]:
    return {(h.hour_start, h.hub_id): _rounded(asdict(h.sums)) for h in found}


def _folded(store: Store) -> dict[tuple[datetime, str], dict[str, float]]:
    """The label rows the job stored, read directly (``labels`` would answer fresh hours from the log)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(monitor_labels)).mappings().all()
    return {(as_utc(r["hour_start"]) or r["hour_start"], r["hub_id"]):
            _rounded({k: v for k, v in r.items() if k not in ("hour_start", "hub_id")}) for r in rows}


def test_folded_label_sums_are_what_the_log_says_and_follow_outcomes_recorded_later(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Screenings by the model and by exploration, released parcels found late, a screened-clear parcel found
    late (two outcomes), out-of-scope parcels; then outcomes recorded after their hour was folded."""
    records = [record(f"F{i}", hub_id=HUB if i % 3 else OTHER_HUB, action="SCREEN" if i % 2 else "RELEASE",
                      why=("model", "exploration", "out_of_scope")[i % 3] if i % 2 else "model",
                      accepted_at=(DAY + timedelta(minutes=13 * i)).isoformat()) for i in range(40)]
    assert store.decisions.record(records, {}) == 40

    def outcome(i: int, result: Literal["clear", "contraband"], source: Literal["xray", "late"] = "xray") -> None:
        r = records[i]
        store.outcomes.record(Outcome(parcel_id=r.decision.parcel_id, screened_at=r.accepted_at, result=result,
                                      source=source), "s1")

    for i in range(1, 40, 2):
        outcome(i, "contraband" if i % 5 == 0 else "clear")
    for i in (4, 8, 20):
        outcome(i, "contraband", "late")  # released, found later
    outcome(7, "contraband", "late")  # screened clear, found later: a second outcome for the parcel
    period = (DAY, DAY + timedelta(days=1))
    assert store.aggregates.labels(*period) == store.aggregates.labels_from_log(*period), "never folded: the log"

    layouts = report.layouts(settings, report.registry_facts(settings))
    assert fold.fold(settings, store, layouts).label_hours == 9  # the first time: every hour with decisions
    expected = _by_hour(store.aggregates.labels_from_log(*period))
    assert _folded(store) == expected and len(expected) >= 10
    assert _by_hour(store.aggregates.labels(*period)) == expected
    cut = (DAY + timedelta(minutes=50), DAY + timedelta(hours=6, minutes=20))  # hours cut by the period's ends
    assert _by_hour(store.aggregates.labels(*cut, hub_id=HUB)) == _by_hour(
        store.aggregates.labels_from_log(*cut, hub_id=HUB))

    outcome(10, "contraband", "late")  # outcomes for decisions whose hour is folded already
    outcome(27, "contraband")  # a screening's result corrected (replaces the clear one)
    fresh = _by_hour(store.aggregates.labels_from_log(*period))
    assert fresh != expected and _folded(store) == expected, "not refolded yet"
    assert _by_hour(store.aggregates.labels(*period)) == fresh, "pages see them before the pass"
    assert fold.fold(settings, store, layouts).label_hours == 9, "the margin rereads the last minutes' outcomes"
    assert _folded(store) == fresh
    monkeypatch.setattr(fold, "OUTCOME_MARGIN", timedelta(0))
    outcome(16, "contraband", "late")
    assert fold.fold(settings, store, layouts).label_hours == 1, "only the hour of the outcome recorded since"
    assert _folded(store) == _by_hour(store.aggregates.labels_from_log(*period)) != fresh


def test_a_pass_waits_while_the_registry_is_down(store: Store, settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding without the references' bins would leave those hours without histograms for good."""
    _seed(store, DAY, 1, 4, "r")
    monkeypatch.setattr(report, "registry_facts", lambda *_a, **_k: report.RegistryFacts("m", error="down"))
    assert job.run_once(settings, store).folded.hours == 0
    assert fold.stale_hours(store) == [DAY] and store.alerts.recent() == []
