"""Settings: one pydantic-settings object read from a TOML file and ``PARCELGUARD_*`` environment variables.

Precedence (highest first): environment, the TOML file named by ``PARCELGUARD_CONFIG`` (default
``parcelguard.toml`` in the working directory, if present), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from parcelguard.errors import ConfigError

DEV_HASH_KEY = "dev-only-parcelguard-hash-key"  # public: anyone can reverse hashes made with it
MIN_HASH_KEY_BYTES = 32  # a phone hash made with a short key was reversed by enumeration in 1.3 s
MAKE_A_KEY = "make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
DEFAULT_PRIORITY_ORIGINS = ["Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou"]
DEFAULT_PROHIBITED_TERMS = [
    "methamphetamine", "meth", "heroin", "ketamine", "cocaine", "fentanyl", "ghb", "gbl",
    "gamma-butyrolactone", "nitrous oxide", "laughing gas", "ephedrine", "pseudoephedrine",
    "冰毒", "海洛因", "氯胺酮", "笑气", "麻黄碱",
]


def _split_list(value: Any) -> Any:
    """Accept ``"a, b"`` from the environment as well as real lists from TOML."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _split_mapping(value: Any) -> Any:
    """Accept ``"HUB=400,HUB2=200"`` from the environment as well as TOML tables."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("expected HUB=NUMBER pairs separated by commas")
        return {key.strip(): int(val) for key, val in pairs}
    return value


class Settings(BaseSettings):
    """Everything an operator may change without touching code."""

    model_config = SettingsConfigDict(env_prefix="PARCELGUARD_", extra="ignore", populate_by_name=True)

    environment: str = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    mlflow_tracking_uri: str = Field(default="", validation_alias="MLFLOW_TRACKING_URI")
    kafka_bootstrap: str = "127.0.0.1:19092"
    partitions: int = 3
    consumer_group: str = "parcelguard-scorer"

    priority_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_PRIORITY_ORIGINS))
    destinations: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["Hainan"])
    prohibited_terms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_PROHIBITED_TERMS)
    )
    capacity_share: float = Field(default=0.05, gt=0, le=1)
    hub_capacity_per_hour: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    hubs: Path | None = None  # a JSON file of registered hubs (id, name, time zone, default capacity)
    exploration_share: float = Field(default=0.1, ge=0, lt=1)
    burst_hours: float = Field(default=24.0, gt=0, le=168)  # unused X-ray capacity a hub's queue carries
    watchlist_path: Path | None = None  # filled in below: a file under the data dir, so the watch-list works as shipped

    hash_key: SecretStr = SecretStr(DEV_HASH_KEY)
    extra_fields: Literal["hash", "drop"] = "hash"  # undeclared manifest strings: keyed hash, or dropped
    extra_field_max_chars: int = Field(default=64, ge=0)  # longer undeclared strings are always dropped
    model_name: str = "parcelguard-risk"
    explain_top_k: int = 3
    promotion_margin: float = 0.0
    max_manifest_bytes: int = 64 * 1024
    claim_ttl_seconds: int = 900
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # the scorer serves /metrics, /livez, /readyz here when set
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # larger API request bodies get 413 unread
    # The API's /docs, /openapi.json and /metrics: open to anyone, or closed (docs) and behind an analyst or
    # admin key (metrics). None: open in development only.
    api_docs_public: bool | None = None
    metrics_public: bool | None = None
    sign_in_failures_per_minute: int = Field(default=10, ge=1)  # per client; more get 429 for a minute

    _split_lists = field_validator("priority_origins", "destinations", "prohibited_terms", mode="before")(
        _split_list
    )
    _split_maps = field_validator("hub_capacity_per_hour", mode="before")(_split_mapping)

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'parcelguard.db').resolve()}"
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"
        if self.watchlist_path is None:
            self.watchlist_path = (self.data_dir / "watchlist.json").resolve()
        development = self.environment == "development"
        if self.api_docs_public is None:
            self.api_docs_public = development
        if self.metrics_public is None:
            self.metrics_public = development
        key = self.hash_key.get_secret_value()
        if not development and key == DEV_HASH_KEY:
            raise ConfigError(f"PARCELGUARD_HASH_KEY must be set to a real secret outside development "
                              f"(the development key is public); {MAKE_A_KEY}")
        if not development and len(key.encode()) < MIN_HASH_KEY_BYTES:
            raise ConfigError(f"PARCELGUARD_HASH_KEY is {len(key.encode())} bytes; outside development it must be "
                              f"at least {MIN_HASH_KEY_BYTES} random bytes; {MAKE_A_KEY}")
        return self

    @property
    def every_origin(self) -> bool:
        return "*" in self.priority_origins

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("PARCELGUARD_CONFIG", "parcelguard.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings(...)`` instead."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
