"""The scoring engine against a real store: idempotent decisions, fail-safe (and the health endpoint saying
so), rule hits, and explanations that can be recomputed exactly from the decision log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from models.manifest import Manifest
from parcelguard.config import Settings
from scoring.api.app import create_app
from scoring.engine import ModelSource, Scorer
from scoring.explanations import POLICY_FEATURES, explain_logged
from scoring.rules import add_entries
from scoring.store import Store
from streams.validate import Rejected, parse_manifest
from tests.conftest import make_settings
from tests.streams.support import manifests, tiny_model


def _batch(items: list[dict[str, Any]]) -> list[tuple[Manifest, dict[str, Any]]]:
    parsed = [parse_manifest(orjson.dumps(item), 64 * 1024) for item in items]
    assert not any(isinstance(p, Rejected) for p in parsed)
    return parsed  # type: ignore[return-value]


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(tmp_path / "data", priority_origins=["Yunnan", "Guangdong", "Sichuan"],
                         capacity_share=0.2, **overrides)


def test_a_replayed_batch_gets_its_first_decisions_back_and_history_counts_once(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    scorer = Scorer(_settings(tmp_path), store, ModelSource.fixed(model))
    batch = _batch(manifests(300, prefix="E"))
    first = scorer.process(batch)
    again = Scorer(_settings(tmp_path), store, ModelSource.fixed(model)).process(batch)  # a restarted scorer
    assert [d.model_dump() for d in again] == [d.model_dump() for d in first]
    assert store.decisions.count() == 300
    sender = scorer.features.entity_keys(batch[0][0]).sender_phone
    assert sender is not None
    counted = store.stats.load([sender])[sender].count
    assert counted == sum(1 for m, _ in batch if m.sender.phone == batch[0][0].sender.phone)


def test_decisions_stored_elsewhere_first_are_the_ones_returned(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = tiny_model()
    batch = _batch(manifests(50, prefix="C"))
    winner = Scorer(_settings(tmp_path), store, ModelSource.fixed(None)).process(batch[:20])  # fail-safe scorer
    # A second scorer checked the store just before the first wrote (a rebalance race): its check sees
    # nothing, its insert keeps the first decisions, and it must hand back those, not its own.
    real, calls = store.decisions.existing, []

    def racing_lookup(ids: list[str]) -> dict[str, Any]:
        calls.append(ids)
        return {} if len(calls) == 1 else real(ids)

    monkeypatch.setattr(store.decisions, "existing", racing_lookup)
    made = {d.parcel_id: d for d in Scorer(_settings(tmp_path), store, ModelSource.fixed(model)).process(batch)}
    assert len(calls) == 2
    for decision in winner:
        assert made[decision.parcel_id].model_dump() == decision.model_dump()
    assert store.decisions.count() == 50


def test_without_a_model_every_in_scope_parcel_is_screened_and_health_says_so(tmp_path: Path, store: Store) -> None:
    settings = _settings(tmp_path)
    scorer = Scorer(settings, store, ModelSource.fixed(None))
    decisions = scorer.process(_batch(manifests(100, prefix="F")))
    in_scope = [d for d in decisions if d.why != "out_of_scope"]
    assert in_scope and all(d.action == "SCREEN" and d.why == "fail_safe" for d in in_scope)
    assert all(d.action == "RELEASE" for d in decisions if d.why == "out_of_scope")
    assert all(d.reasons and d.reasons[0].feature == "fail_safe" for d in in_scope)

    from streams.scorer import StreamScorer

    StreamScorer(scorer, store, "127.0.0.1:1", "unused")._heartbeat(force=True)  # what the loop writes
    response = TestClient(create_app(settings, store)).get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "fail_safe" and "FAIL-SAFE" in response.json()["message"]


def test_watch_listed_parties_are_screened_by_rule(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "watchlist.json"
    settings = _settings(tmp_path, watchlist_path=path)
    model, _ = tiny_model()
    scorer = Scorer(settings, store, ModelSource.fixed(model))
    items = manifests(40, prefix="W")
    add_entries(path, scorer.hasher, [{"kind": "account_id", "value": items[7]["sender"]["account_id"]}])
    scorer.refresh_model()
    decisions = {d.parcel_id: d for d in scorer.process(_batch(items))}
    hit = decisions[items[7]["parcel_id"]]
    if hit.why != "out_of_scope":
        assert (hit.action, hit.why, hit.propensity) == ("SCREEN", "rule", 1.0)
        assert hit.reasons[0].text == "sender account is on the watch-list"


def test_screen_decisions_are_explained_and_any_explanation_recomputes_exactly(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    scorer = Scorer(_settings(tmp_path), store, ModelSource.fixed(model))
    decisions = scorer.process(_batch(manifests(400, prefix="X")))
    by_model = [d for d in decisions if d.action == "SCREEN" and d.why == "model"]
    assert by_model and all(any(r.feature not in POLICY_FEATURES for r in d.reasons) for d in by_model)
    for decision in decisions:
        row = store.decisions.get(decision.parcel_id)
        assert row is not None
        recomputed = explain_logged(row, top_k=scorer.settings.explain_top_k, load=lambda name, version: model)
        if decision.action == "SCREEN":
            assert [r.model_dump() for r in recomputed] == [r.model_dump() for r in decision.reasons]
        elif decision.why == "model":  # released: what it would have been published with, had it been screened
            assert all(r.feature not in POLICY_FEATURES and r.contribution > 0 for r in recomputed)
        else:
            assert recomputed == []


def test_capacity_an_admin_sets_is_what_the_scorer_screens_to(tmp_path: Path, store: Store) -> None:
    model, _ = tiny_model()
    settings = _settings(tmp_path, hub_capacity_per_hour={"HAK-MEILAN": 40})
    scorer = Scorer(settings, store, ModelSource.fixed(model))
    scorer.refresh_model(force=True)
    assert scorer.policy.budget("HAK-MEILAN").hour_capacity() == 40  # the configured figure

    store.capacity.set("HAK-MEILAN", 3, actor="admin-zhao")
    store.capacity.set("SYX-TIANYA", 7, actor="admin-zhao")
    scorer.refresh_model(force=True)
    assert scorer.policy.budget("HAK-MEILAN").hour_capacity() == 3
    assert scorer.policy.budget("SYX-TIANYA").hour_capacity() == 7
    # A few hours of traffic: flags by the model and exploration stay within what the line can take.
    batch = [(m, raw) for m, raw in _batch(manifests(600, prefix="K")) if m.hub_id == "HAK-MEILAN"]
    decided = scorer.process(batch)
    hours = (batch[-1][0].accepted_at - batch[0][0].accepted_at).total_seconds() / 3600
    flagged = sum(1 for d in decided if d.action == "SCREEN" and d.why in ("model", "exploration"))
    assert 0 < flagged <= 3 * (hours + 24 / 2) + 1  # refill over the span plus what the bucket held

    store.capacity.set("HAK-MEILAN", None, actor="admin-zhao")  # back to the configured figure
    scorer.refresh_model(force=True)
    assert scorer.policy.budget("HAK-MEILAN").hour_capacity() == 40


def test_two_scorers_counting_one_sender_at_once_lose_no_parcel(tmp_path: Path, store: Store) -> None:
    """Both read the sender's stats before either writes (two partitions, one sender): counts add up."""
    from models.history import EntityKeys, EntityStat, HistoryState

    sender, address = "h:sender", "h:address"
    store.stats.save({sender: EntityStat(count=5, first_seen=100.0, last_seen=200.0, burst=1.0)})
    keys = EntityKeys(None, sender, None, None, address)
    first = HistoryState.loaded(store.stats.load(keys.all()))
    second = HistoryState.loaded(store.stats.load(keys.all()))
    first.observe(keys, 300.0)
    first.observe(keys, 310.0)
    second.observe(keys, 50.0)  # a late parcel on the other partition
    for state in (first, second):
        store.decisions.record([], {k: state.stats[k] for k in state.dirty}, state.base)
        state.written()
    stored = store.stats.load(keys.all())
    assert stored[sender].count == 5 + 2 + 1
    assert (stored[sender].first_seen, stored[sender].last_seen) == (100.0, 310.0)
    assert stored[address].count == 3
    first.observe(keys, 320.0)  # counting goes on from what was written, not from the first read
    store.decisions.record([], {k: first.stats[k] for k in first.dirty}, first.base)
    assert store.stats.load([sender])[sender].count == 9


def test_the_queue_a_hub_can_carry_is_a_setting(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELGUARD_BURST_HOURS", "2")
    settings = Settings(data_dir=tmp_path / "data")
    scorer = Scorer(settings, store, ModelSource.fixed(None))
    scorer.policy.set_hub_capacities({"HAK-MEILAN": 30})
    assert scorer.policy.budget("HAK-MEILAN").burst() == 60  # two hours of 30 an hour


def _spec_model() -> Any:
    """The tiny model, reading manifest fields and keeping as-of-time field stats (as a trained champion does)."""
    from tests.models.test_fields import SPEC

    model, _ = tiny_model()
    model.schema.fields = SPEC
    return model


def _shared_parties(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` parcels from a handful of senders and outlets, so parcels of one batch share history."""
    items = manifests(n, prefix=prefix)
    for i, item in enumerate(items):
        item["sender"]["phone"] = f"1380000000{i % 3}"
        item["origin"]["outlet_id"] = f"OUT-{i % 4}"
    return items


def test_parcels_later_in_a_batch_see_the_earlier_ones_exactly_as_one_by_one(tmp_path: Path, store: Store) -> None:
    """History is read once and written once per batch, yet each parcel's row is as of its own time: the
    rows stored for one batch equal those the offline feature path builds parcel by parcel, in event order."""
    from models.features import FeatureBuilder
    from models.history import HistoryState
    from models.pii import hasher_for

    settings = _settings(tmp_path)
    model = _spec_model()
    batch = _batch(_shared_parties(30, "H"))
    Scorer(settings, store, ModelSource.fixed(model)).process(batch)
    builder = FeatureBuilder(hasher_for(settings), model.schema.fields)
    history = HistoryState()
    for manifest, _ in sorted(batch, key=lambda item: item[0].accepted_at):
        expected = builder.build(manifest, history)
        stored = store.decisions.get(manifest.parcel_id)
        assert stored is not None and stored.features is not None
        assert stored.features == orjson.loads(orjson.dumps(expected)), manifest.parcel_id
    last = store.decisions.get(max(batch, key=lambda item: item[0].accepted_at)[0].parcel_id)
    assert last is not None and last.features is not None
    assert last.features["sender_phone_prior"] > 0 and last.features["seen:origin.outlet_id"] > 0


def test_each_parcel_is_redacted_once_and_the_log_stores_that_redaction(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.features import redacted_dump
    from models.pii import Hasher, hasher_for

    settings = _settings(tmp_path)
    batch = _batch(_shared_parties(20, "R"))
    calls: list[str] = []
    real = Hasher.redact

    def counted(self: Hasher, manifest: dict[str, Any]) -> dict[str, Any]:
        calls.append(str(manifest.get("parcel_id")))
        return real(self, manifest)

    monkeypatch.setattr(Hasher, "redact", counted)
    Scorer(settings, store, ModelSource.fixed(_spec_model())).process(batch)
    assert sorted(calls) == sorted(m.parcel_id for m, _ in batch)  # once each, not three times
    stored = store.decisions.get(batch[0][0].parcel_id)
    assert stored is not None
    assert stored.manifest == redacted_dump(hasher_for(settings), batch[0][0])
    assert "13800000000" not in orjson.dumps(stored.manifest).decode()
