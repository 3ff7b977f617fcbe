"""Intake validation (issue 13): event times in a sane window, hub ids under the API's own path rule, and a
parcel id decided for one hub never handed to another. No broker: ``parse_manifest`` and the store directly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from models.manifest import ID_PATTERN, Outcome
from parcelguard.config import Settings
from scoring.engine import ModelSource, Scorer
from scoring.store import Store
from streams.validate import INVALID_FIELD, Rejected, parse_manifest
from tests.factories import manifest


def _parse(**changes: object) -> object:
    return parse_manifest(orjson.dumps(manifest(**changes)), 64 * 1024)


@pytest.mark.parametrize(("accepted_at", "words"), [
    ("0001-01-01T00:00:00+14:00", "before 2000-01-01"),
    ("1999-12-31T23:59:59+00:00", "before 2000-01-01"),
    ((datetime.now(UTC) + timedelta(days=2)).isoformat(), "more than a day in the future"),
])
def test_event_times_outside_the_window_are_rejected_with_a_clear_reason(accepted_at: str, words: str) -> None:
    parsed = _parse(accepted_at=accepted_at)
    assert isinstance(parsed, Rejected) and parsed.code == INVALID_FIELD
    assert "accepted_at" in parsed.reason and words in parsed.reason


def test_event_times_inside_the_window_pass() -> None:
    for accepted_at in ("2000-01-01T00:00:00+00:00", (datetime.now(UTC) + timedelta(hours=20)).isoformat()):
        assert not isinstance(_parse(accepted_at=accepted_at), Rejected)


@pytest.mark.parametrize("hub_id", ["HAK MEILAN", "HAK\x00MEILAN", "海口", "HAK/MEILAN", "x" * 65])
def test_hub_ids_the_api_would_refuse_are_rejected_at_intake(hub_id: str) -> None:
    parsed = _parse(hub_id=hub_id)
    assert isinstance(parsed, Rejected) and "hub_id" in parsed.reason


def test_the_hub_rule_is_the_apis_path_rule() -> None:
    from scoring.api.deps import ID_PATTERN as API_ID_PATTERN

    assert ID_PATTERN == API_ID_PATTERN and re.fullmatch(ID_PATTERN, "HAK-MEILAN")


def test_outcome_times_outside_the_window_are_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="before 2000-01-01"):
        Outcome(parcel_id="P1", screened_at="0001-01-01T00:00:00+14:00", result="clear")  # type: ignore[arg-type]
    naive = Outcome(parcel_id="P1", screened_at="2026-11-21T09:00:00", result="clear")  # type: ignore[arg-type]
    assert naive.screened_at.tzinfo is None  # kept as it came, as before


def test_a_parcel_id_decided_for_one_hub_comes_back_with_that_hub(settings: Settings, store: Store) -> None:
    """The engine returns the stored decision for a known parcel id; the scorer loop compares its hub with the
    manifest's and dead-letters a mismatch (``parcel_id_conflict``; end to end in ``test_chaos``)."""
    scorer = Scorer(settings, store, ModelSource.fixed(None))
    first = parse_manifest(orjson.dumps(manifest(parcel_id="DUP1", hub_id="HAK-MEILAN")), 64 * 1024)
    second = parse_manifest(orjson.dumps(manifest(parcel_id="DUP1", hub_id="SYX-TIANYA")), 64 * 1024)
    assert not isinstance(first, Rejected) and not isinstance(second, Rejected)
    [decided] = scorer.process([first])
    [again] = scorer.process([second])
    assert decided.hub_id == again.hub_id == "HAK-MEILAN"
    assert store.decisions.count() == 1


def test_a_batch_is_accepted_and_rejected_exactly_as_record_by_record() -> None:
    """The batched validation keeps every decision and every reason of ``parse_manifest``."""
    from streams.validate import parse_manifests

    good = [orjson.dumps(manifest(parcel_id=f"B{i}")) for i in range(3)]
    bad = [None, b"", b"{", b"[1]", orjson.dumps({**manifest(parcel_id="V"), "schema_version": 2}),
           orjson.dumps({k: v for k, v in manifest(parcel_id="M").items() if k != "hub_id"}),
           orjson.dumps(manifest(parcel_id="W", weight_g=-5)), b"x" * 300]
    for values in (good, [*good[:1], *bad, *good[1:]]):
        batched = parse_manifests(values, 200 * 1024 if values is good else 2048)
        alone = [parse_manifest(v, 200 * 1024 if values is good else 2048) for v in values]
        assert [p if isinstance(p, Rejected) else (p[0].model_dump(), p[1]) for p in batched] == \
            [p if isinstance(p, Rejected) else (p[0].model_dump(), p[1]) for p in alone]
    assert all(not isinstance(p, Rejected) for p in parse_manifests(good, 2048))
