"""The parties on a manifest and their personal fields: the one home for both.

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


def recipient_address(recipient: str | None, destination: str | None) -> str | None:
    """The recipient's address: their own, else the destination address (clear values or their hashes alike)."""
    return recipient or destination


def value(manifest: Manifest, field: PersonalField) -> str | None:
    """The clear value of one personal field; the recipient's address falls back to the destination's."""
    if field == RECIPIENT_ADDRESS:
        return recipient_address(manifest.recipient.address, manifest.destination.address)
    raw = getattr(getattr(manifest, field.section), field.name)
    return None if raw is None else str(raw)
