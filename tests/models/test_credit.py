"""Outcome crediting as a domain rule, without a database: what one outcome adds to a parcel's entities."""

from __future__ import annotations

from datetime import UTC, datetime

from models.credit import credit_for, found
from models.history import EntityStat

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MANIFEST = {"sender": {"phone": "h:sender-phone"}, "recipient": {"phone": "h:recipient-phone"}}


def test_found_reads_screened_and_seized_from_outcome_rows() -> None:
    assert found([]) == (0, 0)
    assert found([("xray", "clear")]) == (1, 0)
    assert found([("late", "contraband")]) == (0, 1)
    assert found([("xray", "clear"), ("late", "contraband")]) == (1, 1)


def test_nothing_to_credit_without_a_change_or_a_stored_manifest() -> None:
    assert credit_for(MANIFEST, AT, (1, 0), (1, 0)) is None
    assert credit_for(None, AT, (0, 0), (1, 1)) is None


def test_a_seizure_adds_to_known_entities_and_starts_new_ones_at_acceptance() -> None:
    credit = credit_for(MANIFEST, AT, (0, 0), (1, 1))
    assert credit is not None
    assert set(credit.entity_keys()) >= {"h:sender-phone", "h:recipient-phone"}
    known = EntityStat(count=3, first_seen=1.0, last_seen=2.0, screened=1, seized=0)
    written = credit.applied({"h:sender-phone": known})
    assert (written["h:sender-phone"].screened, written["h:sender-phone"].seized) == (2, 1)
    fresh = written["h:recipient-phone"]
    assert (fresh.count, fresh.screened, fresh.seized, fresh.first_seen) == (0, 1, 1, AT.timestamp())


def test_a_correction_takes_a_seizure_back_but_never_below_zero() -> None:
    credit = credit_for(MANIFEST, AT, (1, 1), (1, 0))
    assert credit is not None
    written = credit.applied({"h:sender-phone": EntityStat(screened=1, seized=1)})
    assert written["h:sender-phone"].seized == 0 and written["h:recipient-phone"].seized == 0
