"""The parties on a manifest, their personal fields, and the fields the contract declares non-personal.

Redaction is an allow-list: only the fields in ``CLEAR_BY_SECTION`` are stored in clear; the personal fields
below are replaced by their keyed hashes (entity keys are built from exactly those hashes), and every other
field a hub adds is hashed or dropped by ``models.pii`` under the configured policy.

Which fields are personal (hashed on arrival, never stored or logged in clear, shown as hashes to analysts
only) is written here once, and so is the rule that a parcel's recipient address falls back to its
destination address when the recipient line names none (lockers and pickup points). ``models.pii`` redacts
these fields, ``models.features`` builds entity keys from them, ``scoring.rules`` matches the watch-list
against them and ``scoring.api.views`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.manifest import Manifest


@dataclass(frozen=True, slots=True)
class PersonalField:
    section: str  # the manifest part: sender, recipient or destination
    name: str  # the field in that part; also the hash kind, so a phone hashes alike as sender or recipient
    label: str  # how a person reads it ("sender ID")

    @property
    def key(self) -> str:
        """The field's flat name in views (``sender_id_number``)."""
        return f"{self.section}_{self.name}"


SENDER_NAME = PersonalField("sender", "name", "sender name")
SENDER_PHONE = PersonalField("sender", "phone", "sender phone")
SENDER_ID = PersonalField("sender", "id_number", "sender ID")
SENDER_ACCOUNT = PersonalField("sender", "account_id", "sender account")
RECIPIENT_NAME = PersonalField("recipient", "name", "recipient name")
RECIPIENT_PHONE = PersonalField("recipient", "phone", "recipient phone")
RECIPIENT_ADDRESS = PersonalField("recipient", "address", "recipient address")
DESTINATION_ADDRESS = PersonalField("destination", "address", "destination address")

PERSONAL_FIELDS: tuple[PersonalField, ...] = (
    SENDER_NAME, SENDER_PHONE, SENDER_ID, SENDER_ACCOUNT,
    RECIPIENT_NAME, RECIPIENT_PHONE, RECIPIENT_ADDRESS,
    DESTINATION_ADDRESS,
)
# The personal fields of each manifest part, for code that walks a raw manifest dict part by part.
PERSONAL_BY_SECTION: dict[str, tuple[str, ...]] = {
    section: tuple(f.name for f in PERSONAL_FIELDS if f.section == section)
    for section in dict.fromkeys(f.section for f in PERSONAL_FIELDS)
}


# The fields of schema version 1 that are not personal and are kept in clear, per manifest part ("" is the
# manifest's top level). The contents' description is free text but stays in clear: the hard rules and the
# screeners read it. A test fails when a field declared in ``models.manifest`` is in neither list.
CLEAR_BY_SECTION: dict[str, frozenset[str]] = {
    "": frozenset({"schema_version", "parcel_id", "carrier", "hub_id", "accepted_at", "weight_g", "length_cm",
                   "width_cm", "height_cm", "pieces", "service", "payment"}),
    "origin": frozenset({"province", "city", "district", "postcode", "outlet_id"}),
    "destination": frozenset({"province", "city", "district", "address_type"}),
    "sender": frozenset({"account_opened", "id_verified"}),
    "recipient": frozenset(),
    "contents": frozenset({"description", "category", "hs_code", "quantity", "declared_value", "currency"}),
}


def recipient_address(recipient: str | None, destination: str | None) -> str | None:
    """The recipient's address: their own, else the destination address (clear values or their hashes alike)."""
    return recipient or destination


def value(manifest: Manifest, field: PersonalField) -> str | None:
    """The clear value of one personal field; the recipient's address falls back to the destination's."""
    if field == RECIPIENT_ADDRESS:
        return recipient_address(manifest.recipient.address, manifest.destination.address)
    raw = getattr(getattr(manifest, field.section), field.name)
    return None if raw is None else str(raw)
