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


def test_field_stats_and_manifest_fields_read_as_counts_and_values() -> None:
    from models.explain import phrase

    prior, m = 0.2, 10.0
    pair = "origin.city*contents.category"
    values: dict[str, float | str | None] = {"rate:" + pair: (12 + m * prior) / (40 + m), "screened:" + pair: 40.0,
              "rate:origin.outlet_id": prior, "screened:origin.outlet_id": 0.0, "seen:origin.outlet_id": 7.0,
              "f:import_type": "11", "f:sender.name": "h:abc", "f:contents.hs_code[:4]": "0902"}
    assert phrase("rate:" + pair, values, prior, m) == (
        "this origin city × contents category pair: 12 of 40 screened were contraband")
    assert phrase("screened:origin.outlet_id", values, prior, m) == "this origin outlet id: never screened before"
    assert phrase("seen:origin.outlet_id", values, prior, m) == "this origin outlet id: 7 parcels seen before"
    assert phrase("f:import_type", values) == "import type 11"
    assert phrase("f:sender.name", values) == "sender name (a personal field, hashed)"
    assert phrase("f:contents.hs_code[:4]", values) == "contents hs code (first 4) 0902"


def test_day_counts_are_singular_for_one() -> None:
    assert phrase("account_age_days", {"account_age_days": 1.0}) == "sender account opened 1 day ago"
    assert phrase("account_age_days", {"account_age_days": 12.0}) == "sender account opened 12 days ago"
    assert phrase("sender_account_days_known", {"sender_account_days_known": 1.0}) == "sender account known for 1 day"
