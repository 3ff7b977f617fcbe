"""Store rows to API views: plain words for why and what happened, and only the manifest fields a role may see.

The manifest kept with a decision is already redacted (personal fields are keyed hashes), and hubs may
add fields of their own; so views pick known, non-personal fields by name rather than filter out
personal ones, and show the parties' hashes to analysts and admins only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.manifest import Reason
from models.parties import PERSONAL_FIELDS
from parcelguard.config import Settings
from scoring import capacity, hubs
from scoring.api.risk import HubDays
from scoring.api.schemas import HistoryEntry, OutcomeView, ParcelFacts, ParcelView, QueueItem
from scoring.store import Store
from scoring.store.rows import AuditRecord, StoredDecision, StoredOutcome

WHY_TEXT = {  # for a SCREEN decision
    "rule": "Hard rule",
    "model": "Flagged by the model",
    "exploration": "Random check",
    "fail_safe": "Fail-safe: no model in service",
    "out_of_scope": "Not a priority origin",
}
RELEASE_TEXT = {"model": "Below the model's threshold", "out_of_scope": "Not a priority origin"}


def why_text(action: str, why: str) -> str:
    if action == "RELEASE":
        return RELEASE_TEXT.get(why, f"Released ({why.replace('_', ' ')})")
    return WHY_TEXT.get(why, why.replace("_", " "))
STATUS_TEXT = {
    "pending": "waiting for X-ray screening",
    "screened": "screened",
    "released": "released without screening",
}


def _part(manifest: dict[str, Any], section: str) -> dict[str, Any]:
    value = manifest.get(section)
    return value if isinstance(value, dict) else {}


def _joined(*parts: Any) -> str | None:
    return ", ".join(str(p) for p in parts if p not in (None, "")) or None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def facts(manifest: dict[str, Any]) -> ParcelFacts:
    origin, destination = _part(manifest, "origin"), _part(manifest, "destination")
    contents, sender = _part(manifest, "contents"), _part(manifest, "sender")
    dims = [_number(manifest.get(k)) for k in ("length_cm", "width_cm", "height_cm")]
    quantity, pieces = contents.get("quantity"), manifest.get("pieces")
    return ParcelFacts(
        carrier=_text(manifest.get("carrier")),
        origin=_joined(origin.get("city"), origin.get("province")),
        outlet_id=_text(origin.get("outlet_id")),
        destination=_joined(destination.get("district"), destination.get("city"), destination.get("province")),
        address_type=_text(destination.get("address_type")),
        description=_text(contents.get("description")),
        category=_text(contents.get("category")),
        hs_code=_text(contents.get("hs_code")),
        quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None,
        declared_value=_number(contents.get("declared_value")),
        currency=_text(contents.get("currency")),
        weight_g=_number(manifest.get("weight_g")),
        size_cm=" × ".join(f"{d:g}" for d in dims if d is not None) if None not in dims else None,
        pieces=pieces if isinstance(pieces, int) and not isinstance(pieces, bool) else None,
        service=_text(manifest.get("service")),
        payment=_text(manifest.get("payment")),
        sender_account_opened=_text(sender.get("account_opened")),
        sender_id_verified=sender.get("id_verified") if isinstance(sender.get("id_verified"), bool) else None,
    )


def party_hashes(manifest: dict[str, Any]) -> dict[str, str | None]:
    """The parties' keyed hashes as the decision record holds them (a clear value never gets this far)."""
    found: dict[str, str | None] = {}
    for field in PERSONAL_FIELDS:
        value = _part(manifest, field.section).get(field.name)
        found[field.key] = value if isinstance(value, str) and value.startswith("h:") else None
    return found


def reasons(row: StoredDecision) -> list[Reason]:
    """The stored reasons, each phrase once (two features, such as weight and volume, can share a phrase)."""
    seen: set[str] = set()
    kept = []
    for reason in row.reasons:
        if reason.text not in seen:
            seen.add(reason.text)
            kept.append(reason)
    return kept


def queue_item(row: StoredDecision, now: datetime, days: HubDays | None = None, raw: bool = True) -> QueueItem:
    """``raw``: the model's score and the selection probability (analysts, admins); everyone gets the rank."""
    decided = row.decided_at
    place = days.place(row) if days is not None else None
    return QueueItem(
        parcel_id=row.parcel_id, hub_id=row.hub_id, why=row.why, why_text=why_text(row.action, row.why),
        score=row.score if raw else None, propensity=row.propensity if raw else None,
        risk=place, high_risk=row.why == "rule" or bool(place and place.high), reasons=reasons(row),
        accepted_at=row.accepted_at, decided_at=decided,
        age_s=max(0.0, (now - decided).total_seconds()) if decided else 0.0,
        claimed_by=row.claimed_by, claim_expires_at=row.claim_expires_at,
        facts=facts(row.manifest or {}),
    )


def outcome_view(row: StoredOutcome) -> OutcomeView:
    return OutcomeView(
        parcel_id=row.parcel_id, result=row.result, source=row.source,
        contraband_type=row.contraband_type, quantity_g=row.quantity_g, note=row.note,
        screened_at=row.screened_at, recorded_by=row.recorded_by, recorded_at=row.recorded_at,
    )


def _history_text(action: str, detail: dict[str, Any]) -> str:
    if action == "claim":
        minutes = float(detail.get("ttl_s") or 0) / 60
        return f"claimed for screening ({minutes:.0f} min)" + (" with “claim next”" if detail.get("next") else "")
    if action == "release":
        return "handed back to the queue"
    if action == "outcome":
        what = detail.get("result", "?")
        if detail.get("contraband_type"):
            what += f": {detail['contraband_type']}"
            if detail.get("quantity_g") is not None:
                what += f", {detail['quantity_g']:g} g"
        return ("late label: " if detail.get("source") == "late" else "X-ray outcome: ") + what
    return action.replace("_", " ")


def history(row: StoredDecision, audit: list[AuditRecord]) -> list[HistoryEntry]:
    entries = [HistoryEntry(
        at=row.decided_at, actor=f"scorer (model {row.model_version})" if row.model_version else "scorer",
        action="decision", text=f"{row.action}: {why_text(row.action, row.why).lower()}",
    )] if row.decided_at else []
    for entry in audit:
        detail = entry.detail or {}
        entries.append(HistoryEntry(at=entry.at, actor=entry.actor, action=entry.action,
                                    text=_history_text(entry.action, detail)))
    return entries


def parcel_view(row: StoredDecision, store: Store, show_parties: bool, raw: bool = True) -> ParcelView:
    """``show_parties``: the parties' keyed hashes; ``raw``: score and selection probability (analysts, admins)."""
    zone = hubs.zone(store.hubs.get(row.hub_id))
    place = HubDays(store, row.hub_id, zone, [row]).place(row)
    return ParcelView(
        parcel_id=row.parcel_id, hub_id=row.hub_id, action=row.action, why=row.why,
        score=row.score if raw else None, propensity=row.propensity if raw else None, risk=place,
        time_zone=str(zone), model_name=row.model_name, model_version=row.model_version,
        status=row.status, claimed_by=row.claimed_by, claim_expires_at=row.claim_expires_at,
        accepted_at=row.accepted_at, decided_at=row.decided_at,
        why_text=why_text(row.action, row.why),
        status_text=STATUS_TEXT.get(row.status, row.status),
        reasons=reasons(row),
        facts=facts(row.manifest or {}),
        parties=party_hashes(row.manifest or {}) if show_parties else None,
        outcomes=[outcome_view(o) for o in store.outcomes.for_parcel(row.parcel_id)],
        history=history(row, store.audit.for_parcel(row.parcel_id)),
    )


def capacity_for(store: Store, settings: Settings, hub_id: str) -> int | None:
    """The hub's capacity in force: an admin's figure if set, else the configured one."""
    return capacity.in_force(store, settings).get(hub_id)
