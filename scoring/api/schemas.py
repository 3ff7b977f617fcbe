"""Request and response bodies of the HTTP API; the OpenAPI document is generated from these.

Nothing here carries personal data in clear: decision records hold keyed hashes only, and parcel views
show those hashes to analysts and admins alone (``parties``), never to screeners or hubs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.manifest import Action, Reason, Why
from models.pii import normalise
from scoring.api.risk import RiskPlace
from scoring.hubs import a_number

Role = Literal["hub", "screener", "analyst", "admin"]
ContrabandType = Literal["methamphetamine", "heroin", "ketamine", "ghb_liquid", "nitrous_oxide", "precursor", "other"]


def _a_sane_moment(value: datetime) -> datetime:
    """A moment this service can store and compare: in UTC, from 2000 on (year 1 at +14:00 is not in UTC's range)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a date from 2000 on with a UTC offset, e.g. 2026-11-20T21:14:05+08:00") from None
    if utc.year < 2000:
        raise ValueError("must be a date from 2000 on, e.g. 2026-11-20T21:14:05+08:00")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_a_sane_moment)]


def _not_a_bool(value: object) -> object:
    """JSON's ``true`` is not the number 1 (pydantic would take it as 1); 30.0 is still 30, as JSON Schema says."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Grams = Annotated[float, Field(ge=0, le=1_000_000), BeforeValidator(_not_a_bool)]


class Problem(BaseModel):
    """Every 4xx and 5xx: one sentence that says what went wrong and what to do about it."""

    detail: str = Field(examples=["contraband_type: say what was found (one of methamphetamine, heroin, …)"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- who is calling ---------------------------------------------------------------------------------
class Me(BaseModel):
    name: str
    role: Role
    hub_id: str | None = Field(description="the one hub a screener or hub key is limited to; null for all hubs")


class TokenOut(Me):
    access_token: str = Field(description="send as `Authorization: Bearer <token>`; shown once, stored hashed")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# --- the queue --------------------------------------------------------------------------------------
class ParcelFacts(BaseModel):
    """What the manifest declares, without any personal field (names, phones, IDs, addresses)."""

    carrier: str | None = None
    origin: str | None = Field(None, description="city, province of the accepting outlet")
    outlet_id: str | None = None
    destination: str | None = Field(None, description="district, city, province")
    address_type: str | None = None
    description: str | None = None
    category: str | None = None
    hs_code: str | None = None
    quantity: int | None = None
    declared_value: float | None = None
    currency: str | None = None
    weight_g: float | None = None
    size_cm: str | None = Field(None, description="length × width × height")
    pieces: int | None = None
    service: str | None = None
    payment: str | None = None
    sender_account_opened: str | None = None
    sender_id_verified: bool | None = None


class QueueItem(BaseModel):
    parcel_id: str
    hub_id: str
    why: Why
    why_text: str = Field(description="why it was flagged, in plain words")
    score: float | None = Field(description="model risk (calibrated probability of contraband); analysts and admins "
                                            "only, null for other roles and without a model")
    propensity: float | None = Field(description="probability with which the policy chose this parcel for "
                                                 "screening; analysts and admins only")
    risk: RiskPlace | None = Field(None, description="the parcel's place among its hub's parcels scored today")
    high_risk: bool = Field(False, description="a hard-rule hit or in the hub's top 1% today (the busy line's count)")
    reasons: list[Reason] = Field(description="rule hit, exploration, or the model's strongest pushes, in words")
    accepted_at: datetime | None
    decided_at: datetime | None
    age_s: float = Field(description="seconds since the parcel was flagged")
    claimed_by: str | None
    claim_expires_at: datetime | None
    facts: ParcelFacts


class QueueView(BaseModel):
    hub_id: str
    generated_at: datetime
    items: list[QueueItem] = Field(description="flagged, not yet screened, held by nobody: highest risk first")
    mine: list[QueueItem] = Field(description="parcels the caller holds a live claim on")
    waiting: int = Field(description="all parcels waiting at the hub (items is capped by limit)")
    held: int = Field(description="parcels held by a live claim (anyone's)")
    hour_started_at: datetime
    flagged_this_hour: int
    screened_this_hour: int
    capacity_per_hour: int | None = Field(description="X-ray parcels per hour; null when the hub has none set")
    capacity_used: float | None = Field(description="flagged this hour / capacity per hour")
    claim_ttl_s: int = Field(description="how long a claim lasts before the parcel returns to the queue")


class ClaimResult(BaseModel):
    parcel: QueueItem
    claimed_by: str
    expires_at: datetime


class OutcomeIn(_In):
    """What X-ray screening found. Contraband needs its type; quantity and note are optional."""

    result: Literal["clear", "contraband"]
    contraband_type: ContrabandType | None = None
    quantity_g: Grams | None = Field(default=None, description="grams (or ml for liquids)")
    note: str | None = Field(default=None, max_length=2000, description="free text for the record; not logged")
    screened_at: Moment | None = Field(default=None, description="when screened; default now")

    @model_validator(mode="after")
    def _type_goes_with_result(self) -> OutcomeIn:
        if self.result == "contraband" and self.contraband_type is None:
            raise ValueError("contraband needs contraband_type: say what was found")
        if self.result == "clear" and (self.contraband_type is not None or self.quantity_g is not None):
            raise ValueError("a clear outcome takes no contraband_type or quantity_g; send result=contraband")
        return self


class LateLabelIn(_In):
    """Contraband found after the parcel left screening (released, or cleared): it still teaches the model."""

    contraband_type: ContrabandType
    quantity_g: Grams | None = None
    note: str | None = Field(default=None, max_length=2000)
    found_at: Moment | None = Field(default=None, description="when it surfaced; default now")


class OutcomeView(BaseModel):
    parcel_id: str
    result: Literal["clear", "contraband"]
    source: Literal["xray", "late"]
    contraband_type: str | None
    quantity_g: float | None
    note: str | None
    screened_at: datetime
    recorded_by: str
    recorded_at: datetime


# --- one parcel -------------------------------------------------------------------------------------
class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    text: str = Field(description="the action in words")


class ParcelView(BaseModel):
    parcel_id: str
    hub_id: str
    action: Action
    why: Why
    why_text: str
    score: float | None = Field(description="model risk; analysts and admins only")
    propensity: float | None = Field(description="selection probability; analysts and admins only")
    risk: RiskPlace | None = Field(None, description="its place among its hub's parcels scored the same day")
    time_zone: str = Field("UTC", description="the hub's time zone, in which the pages show its times")
    model_name: str | None
    model_version: str | None
    reasons: list[Reason] = Field(description="the explanation published with the decision")
    status: Literal["pending", "screened", "released"]
    status_text: str
    claimed_by: str | None
    claim_expires_at: datetime | None
    accepted_at: datetime | None
    decided_at: datetime | None
    facts: ParcelFacts
    parties: dict[str, str | None] | None = Field(
        description="keyed hashes of the parties (analysts and admins only; never clear values)")
    outcomes: list[OutcomeView]
    history: list[HistoryEntry] = Field(description="decision, claims, releases and outcomes: who and when")


class SearchHit(BaseModel):
    parcel_id: str
    hub_id: str
    action: Action
    why: Why
    why_text: str
    status: str
    score: float | None
    decided_at: datetime | None


class SearchResult(BaseModel):
    query: str
    hits: list[SearchHit]


class HubSummary(BaseModel):
    hub_id: str
    name: str | None = Field(None, description="from the hub registry")
    time_zone: str = Field("UTC", description="the hub's time zone (UTC when it is not registered)")
    zone_label: str = Field("UTC", description="e.g. CST (UTC+8)")
    waiting: int
    held: int
    flagged_this_hour: int
    capacity_per_hour: int | None
    oldest_waiting_s: float | None = Field(None, description="age of the oldest flagged parcel nobody holds: the "
                                                             "backlog's age")
    screened_last_hour: int = Field(0, description="X-ray outcomes recorded in the last hour: the line's throughput")


# --- admin ------------------------------------------------------------------------------------------
KeyName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@\-]+$", examples=["screener-wang"])]
HubId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class HubKeyIn(_In):
    """A key that works for one hub: ``hub_id`` is required (the schema says so, not only the code)."""

    name: KeyName
    role: Literal["hub", "screener"]
    hub_id: HubId = Field(description="the one hub this key works for")

    @model_validator(mode="before")
    @classmethod
    def _hub_needed(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("hub_id") is None:
            raise ValueError(f"a {data.get('role')} key needs hub_id: the hub it works for")
        return data


class AllHubsKeyIn(_In):
    name: KeyName
    role: Literal["analyst", "admin"]
    hub_id: None = Field(default=None, description="none: analyst and admin keys work across hubs")


KeyIn = HubKeyIn | AllHubsKeyIn  # a plain union: schemathesis mis-reads pydantic's discriminated oneOf


class KeyView(BaseModel):
    name: str
    role: str
    hub_id: str | None
    active: bool
    created_at: datetime | None


class KeyIssued(KeyView):
    token: str = Field(description="the API key; shown once, only its hash is stored")


def _something_to_match(value: str) -> str:
    if not normalise(value):
        raise ValueError("value has nothing to match once spaces, dashes, brackets and plus signs are removed")
    return value


WatchKind = Literal["phone", "id_number", "account_id", "address", "name"]


class WatchValueIn(_In):
    """A party by clear value: hashed before it is written, never stored or logged."""

    kind: WatchKind
    # Something must remain once spaces, dashes, brackets and plus signs are removed ("---" matches nothing):
    # the pattern says so in the document, the validator in words.
    value: Annotated[str, AfterValidator(_something_to_match)] = Field(
        # Python's whitespace (stripped on arrival) also covers \x1c-\x1f and \x85, which JSON Schema's \s does not.
        min_length=1, max_length=256, json_schema_extra={"pattern": r"[^\s\x1c-\x1f\x85\-()+]"})
    note: str | None = Field(default=None, max_length=200)


class WatchHashIn(_In):
    """A party by an already keyed hash."""

    kind: WatchKind
    hash: str = Field(pattern=r"^h:[0-9a-f]{8,128}$")
    note: str | None = Field(default=None, max_length=200)


WatchEntryIn = WatchValueIn | WatchHashIn  # exactly one of value or hash: each shape forbids the other


class WatchlistChange(_In):
    entries: list[WatchEntryIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _value_or_hash(cls, data: object) -> object:
        """The union would say "extra inputs are not permitted" twice; say what to send instead."""
        entries = data.get("entries") if isinstance(data, dict) else None
        for n, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and (entry.get("value") is None) == (entry.get("hash") is None):
                raise ValueError(f"entries.{n}: give exactly one of value (hashed on arrival) or hash")
        return data


class WatchEntryView(BaseModel):
    kind: str
    hash: str
    note: str | None = None


class WatchlistView(BaseModel):
    path: str
    entries: list[WatchEntryView]


class WatchlistResult(BaseModel):
    changed: int
    hashes: list[str]
    total: int


class CapacityIn(_In):
    per_hour: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(a_number)] | None = Field(
        description="X-ray parcels per hour; null returns to configured")


class CapacityView(BaseModel):
    hub_id: str
    per_hour: int | None = Field(description="the capacity in force")
    source: Literal["admin", "configured", "none"]
    configured: int | None = Field(None, description="the capacity without the admin's figure (registry default or "
                                                     "PARCELGUARD_HUB_CAPACITY_PER_HOUR): what null goes back to")
    updated_by: str | None = None
    updated_at: datetime | None = None


class HubView(BaseModel):
    """A registered hub, with its time zone's label as the pages print it."""

    hub_id: str
    name: str
    time_zone: str
    zone_label: str = Field(description="e.g. CST (UTC+8)")
    default_capacity: int | None
    updated_by: str
    updated_at: datetime | None


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    parcel_id: str | None
    detail: dict[str, object] | None


class Health(BaseModel):
    status: Literal["ok", "degraded", "fail_safe"]
    database: bool
    scorers: list[dict[str, object]]
    message: str


PROBLEM_TEXT = {
    400: "the request is malformed",
    401: "no key or token, or one that is unknown, expired or revoked",
    403: "the key's role or hub does not allow this",
    404: "no such parcel (or nothing to claim)",
    409: "the parcel is not in a state that allows this (already claimed, screened or released)",
    422: "the request body or parameters are invalid; the message says which field and why",
    503: "a dependency is not configured or not available",
}


def problems(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries for the error codes a route can answer with (all carry a Problem)."""
    return {code: {"model": Problem, "description": PROBLEM_TEXT[code]} for code in codes}
