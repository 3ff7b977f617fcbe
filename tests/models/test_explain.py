"""Phrases a screener reads: counts of earlier parcels and of earlier outcomes say what is known."""

from __future__ import annotations

import math

from models.explain import phrase


def test_outcome_history_phrases_say_found_none_or_unknown() -> None:
    assert phrase("sender_seized", {"sender_seized": 2.0}) == "contraband found on this sender's earlier parcels: 2"
    assert phrase("sender_seized", {"sender_seized": 0.0}) == "no seizure on this sender before"
    assert phrase("sender_seized", {"sender_seized": math.nan}).endswith(": not known")


def test_history_counts_say_how_many_before_or_not_given() -> None:
    name = "sender_phone_prior"
    assert phrase(name, {name: 3.0}) == "parcels from this sender phone: 3 before"
    assert phrase(name, {name: 0.0}) == "sender phone never seen before"
    assert phrase(name, {name: math.nan}) == "parcels from this sender phone: not given"
