"""The chaos run (`make chaos`): every poison kind of issue 13, mid-stream, through a live scorer, on each database.

Before the fix the 10 MB record and the NUL province (PostgreSQL) stopped every partition, the year-1
timestamp was retried forever, and a second hub's parcel silently got the first hub's decision.
"""

from __future__ import annotations

import pytest

from parcelguard.chaos import run_chaos
from parcelguard.config import Settings
from scoring.store import Store
from streams.broker import EmbeddedBroker

pytestmark = [pytest.mark.kafka]


def test_every_poison_kind_is_dead_lettered_and_every_good_record_decided_once(
    broker: EmbeddedBroker, settings: Settings, store: Store
) -> None:
    postgres = store.engine.dialect.name == "postgresql"
    results = run_chaos(settings, store, broker.bootstrap, good_per_kind=10, postgres=postgres)

    assert len(results) >= 7
    for result in results:
        assert result.code == result.expected_code, result
        assert result.dead_lettered == (result.expected_code is not None), result
        assert result.good_decided == result.good_sent, result
        assert result.lost == 0 and result.decided_twice == 0, result
