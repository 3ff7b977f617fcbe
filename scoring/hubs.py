"""The hub registry as reference data: what a hub is, where it is read from, and how hub ids are checked.

Hubs come from a JSON file named by ``PARCELGUARD_HUBS`` (loaded when a service opens the store), from an
admin (the admin page, ``PUT /api/admin/hubs/{id}``) or from ``parcelguard hub add``. Keys, capacities and
manifests name hubs; each is checked here against the registry.

The rule for an empty registry: every hub is accepted. A user who configured none (``score-file`` on
another country's data, a test store) keeps working as before; once one hub is registered, the registry
is the list, and a typo such as "HAK-MEILAM" is refused instead of giving a screener a queue that stays
empty for good.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from models.manifest import ID_PATTERN
from parcelguard.errors import ConfigError, ParcelGuardError
from scoring.store.rows import Hub

if TYPE_CHECKING:
    from parcelguard.config import Settings
    from scoring.store import Store

log = logging.getLogger(__name__)
DEFAULT_TIME_ZONE = "UTC"  # a hub whose zone nobody registered: times say UTC rather than guess
REFRESH_S = 10.0  # how stale the scorer's copy of the registry may be


class UnknownHub(ParcelGuardError):
    """A hub id that is not in a non-empty registry."""


def a_number(value: object) -> object:
    """Neither ``true`` nor ``"30"`` is the number 30 (pydantic's lax mode takes both); 30.0 is."""
    if isinstance(value, bool | str):
        raise ValueError("must be a number, not text or true/false")
    return value


class HubFields(BaseModel):
    """What an admin says about a hub (the API's body; the id is in the address). The time zone must be a real
    IANA name: the schema lists them, so a client can tell a valid request without sending it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S", examples=["Haikou Meilan"])]
    time_zone: Annotated[str, Field(max_length=64, examples=["Asia/Shanghai"],
                                    json_schema_extra={"enum": sorted(available_timezones())})] = DEFAULT_TIME_ZONE
    default_capacity: Annotated[int | None, Field(ge=1, le=100_000, description="X-ray parcels per hour where none "
                                                  "is set"), BeforeValidator(a_number)] = None

    @field_validator("time_zone")
    @classmethod
    def _real_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone; use a name such as Asia/Shanghai or UTC")
        return value


class HubSpec(HubFields):
    """A hub as the config file, the CLI or ``make up`` gives it: its id and what an admin would say about it."""

    hub_id: Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN, examples=["HAK-MEILAN"])]

    def row(self) -> Hub:
        return Hub(self.hub_id, self.name, self.time_zone, self.default_capacity)


_SPECS = TypeAdapter(list[HubSpec])


def read_file(path: Path) -> list[HubSpec]:
    """The hubs in a PARCELGUARD_HUBS file: a JSON list of {hub_id, name, time_zone, default_capacity}."""
    try:
        return _SPECS.validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"PARCELGUARD_HUBS names {path}, which cannot be read: {exc.strerror}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"PARCELGUARD_HUBS file {path}: entry {where}: {first['msg']} "
                          '(expected [{"hub_id": "HAK-MEILAN", "name": "…", "time_zone": "Asia/Shanghai", '
                          '"default_capacity": 60}, …])') from exc


def load_config(store: Store, settings: Settings) -> int:
    """Register (or update) the hubs the PARCELGUARD_HUBS file lists; how many it listed."""
    if settings.hubs is None:
        return 0
    specs = read_file(settings.hubs)
    for spec in specs:
        store.hubs.save(spec.row(), actor="config")
    return len(specs)


def check(store: Store, hub_id: str) -> None:
    """Raise UnknownHub when the registry lists hubs and ``hub_id`` is not one of them."""
    known = [hub.hub_id for hub in store.hubs.all()]
    if known and hub_id not in known:
        raise UnknownHub(f"hub {hub_id!r} is not registered (registered: {', '.join(known)}); check the spelling, "
                         "or register it first (admin page, or `parcelguard hub add`)")


def zone(hub: Hub | None) -> ZoneInfo:
    """The hub's time zone; UTC for a hub nobody registered (or a zone this machine does not know)."""
    try:
        return ZoneInfo(hub.time_zone if hub else DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


class RegistryCache:
    """The scorer's copy of the registry's hub ids, re-read every REFRESH_S seconds.

    A store that does not answer keeps the last copy: reference data a few seconds old is better than
    dead-lettering good manifests, or stopping the line, because the database blinked."""

    def __init__(self, store: Store, refresh_s: float = REFRESH_S) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._ids: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def accepts(self, hub_id: str) -> bool:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.refresh_s:
            self._read_at = now
            try:
                self._ids = frozenset(hub.hub_id for hub in self.store.hubs.all())
            except Exception as exc:
                log.warning("could not read the hub registry; keeping the last copy",
                            extra={"error": f"{type(exc).__name__}: {exc}"})
        return not self._ids or hub_id in self._ids


def file_bytes(specs: list[HubSpec]) -> bytes:
    """A PARCELGUARD_HUBS file for these hubs (``make up`` writes one)."""
    return orjson.dumps([spec.model_dump() for spec in specs], option=orjson.OPT_INDENT_2)
