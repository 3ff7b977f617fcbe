"""Engine and table definitions shared by the store and the migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url

# Fixed constraint names, so a later migration can name what it alters on SQLite and PostgreSQL alike.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

decisions = Table(
    "decisions",
    metadata,
    Column("parcel_id", String(64), primary_key=True),
    Column("hub_id", String(64), nullable=False),
    Column("action", String(8), nullable=False),
    Column("why", String(16), nullable=False),
    Column("score", Float),
    Column("propensity", Float, nullable=False),
    Column("model_name", String(128)),
    Column("model_version", String(32)),
    Column("shadow_version", String(32)),
    Column("shadow_score", Float),
    Column("reasons", JSON, nullable=False),
    Column("features", JSON),
    Column("manifest", JSON, nullable=False),  # redacted: personal fields are keyed hashes
    Column("origin_province", String(64)),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("status", String(12), nullable=False),  # pending | screened | released
    Column("claimed_by", String(64)),
    Column("claim_expires_at", DateTime(timezone=True)),
    Index("ix_decisions_queue", "hub_id", "status", "action", "score"),
    Index("ix_decisions_accepted", "accepted_at"),
    # A hub's day of scores, read from the index alone: the rank a screener sees ("3rd highest of 412 today").
    Index("ix_decisions_hub_day", "hub_id", "accepted_at", "score"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("parcel_id", String(64), nullable=False, index=True),
    Column("screened_at", DateTime(timezone=True), nullable=False),
    Column("result", String(16), nullable=False),
    Column("contraband_type", String(64)),
    Column("quantity_g", Float),
    Column("source", String(8), nullable=False),
    Column("note", Text),
    Column("recorded_by", String(64), nullable=False),
    # Indexed: the monitoring job refolds the label sums of the hours whose outcomes were recorded since its last pass.
    Column("recorded_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("parcel_id", "source", name="uq_outcomes_parcel_source"),
)

entity_stats = Table(
    "entity_stats",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("burst", Float, nullable=False),
    Column("partners", Integer, nullable=False),
    # What screening found on the entity's parcels (written when an outcome is recorded).
    Column("screened", Integer, nullable=False, server_default="0"),
    Column("seized", Integer, nullable=False, server_default="0"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("parcel_id", String(64)),
    Column("detail", JSON),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("hub_id", String(64)),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Short-lived bearer tokens (and sign-in cookies) exchanged for an API key; only their hash is kept.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("key_name", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# X-ray parcels per hour an admin set for a hub; overrides PARCELGUARD_HUB_CAPACITY_PER_HOUR.
hub_capacity = Table(
    "hub_capacity",
    metadata,
    Column("hub_id", String(64), primary_key=True),
    Column("per_hour", Integer, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# The hub registry: reference data every hub id is checked against (keys, capacities, manifests), with the
# hub's own time zone for the pages and a default X-ray capacity (PARCELGUARD_HUBS, the admin page, the CLI).
hubs = Table(
    "hubs",
    metadata,
    Column("hub_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("default_capacity", Integer),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(96), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("model_version", String(32)),
    Column("fail_safe", Boolean, nullable=False),
    Column("consumed", BigInteger, nullable=False),
    Column("decided", BigInteger, nullable=False),
    Column("dead_lettered", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

# Drift and performance alerts (scoring/monitoring/monitor.py); one row per kind, scope, window and model version.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(12), nullable=False),
    Column("scope", String(64), nullable=False),  # a hub id, or "all"
    Column("granularity", String(8), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("model_name", String(128)),
    Column("model_version", String(32)),
    Column("message", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Index("ix_alerts_window", "window_start"),
)


# Monitoring aggregates (scoring/monitoring/fold.py): the decision log folded per hour (UTC start; China has no
# daylight saving, so local hours and days are whole hours), hub and model version by the monitoring job, so the
# analyst pages sum a few thousand rows instead of decoding every decision's features.
monitor_counts = Table(
    "monitor_counts",
    metadata,
    Column("hour_start", DateTime(timezone=True), primary_key=True),
    Column("hub_id", String(64), primary_key=True),
    Column("model_version", String(32), primary_key=True),  # the acting version; "" when none scored
    Column("total", Integer, nullable=False),
    Column("in_scope", Integer, nullable=False),
    Column("released", Integer, nullable=False),
    Column("flagged_by_why", JSON, nullable=False),
    Column("by_origin", JSON, nullable=False),
    Column("capacity_per_hour", Integer),  # the hub's capacity in force when the hour was folded (None: none set)
    Column("folded_at", DateTime(timezone=True), nullable=False),
)

# Binned feature and score histograms per hour, hub, model version and role (in service | shadow), on bins fixed
# by that version's training reference (``bins_id`` names the layout; scoring/monitoring/binning.py).
monitor_histograms = Table(
    "monitor_histograms",
    metadata,
    Column("hour_start", DateTime(timezone=True), primary_key=True),
    Column("hub_id", String(64), primary_key=True),
    Column("model_version", String(32), primary_key=True),
    Column("role", String(12), primary_key=True),
    Column("bins_id", String(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("counts", LargeBinary, nullable=False),  # little-endian int64 counts in the layout's order
)

# Label sums (``aggregates.LabelSums``) per hour of the decisions' acceptance and hub: what their outcomes say.
# Outcomes arrive after an hour closes, so the job refolds an hour's row whenever outcomes of its decisions are
# recorded (``monitor_watermarks``: how far it has read ``outcomes.recorded_at``).
monitor_labels = Table(
    "monitor_labels",
    metadata,
    Column("hour_start", DateTime(timezone=True), primary_key=True),
    Column("hub_id", String(64), primary_key=True),
    Column("screened_labelled", Integer, nullable=False),
    Column("screened_hits", Integer, nullable=False),
    Column("model_labelled", Integer, nullable=False),
    Column("model_hits", Integer, nullable=False),
    Column("late_hits", Integer, nullable=False),
    Column("explored_w", Float, nullable=False),
    Column("explored_wy", Float, nullable=False),
    Column("explored_ww", Float, nullable=False),
)

# How far the monitoring job has folded a source (``labels``: outcomes recorded up to ``value_at``); no row:
# never folded, and the pages read that source from the log.
monitor_watermarks = Table(
    "monitor_watermarks",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("value_at", DateTime(timezone=True), nullable=False),
)

# Closed windows the monitoring job has judged for alerts: each is judged once.
monitor_evaluated = Table(
    "monitor_evaluated",
    metadata,
    Column("granularity", String(8), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_dumps(value: Any) -> str:
    # orjson: the decision log's JSON columns were the scorer's largest cost after the inserts themselves.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# A database that stops answering must show up as an error within seconds (the scorer pauses and retries,
# readiness says not ready), never as a silent stall: every wait on the database is bounded.
SQLITE_WAL_CHECKPOINT_PAGES = 10_000  # about 40 MB of WAL between automatic checkpoints
SQLITE_BUSY_TIMEOUT_S = 5.0  # a write lock held longer than this is an OperationalError ("database is locked")
CONNECT_TIMEOUT_S = 5  # PostgreSQL: a server that does not accept the connection
STATEMENT_TIMEOUT_S = 60  # PostgreSQL: a statement (or a lock wait) running longer is cancelled
POOL_TIMEOUT_S = 10  # every pooled connection busy (a frozen server holding them all)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with SQLite set up for one writer beside many readers (WAL, waits instead of failing), and
    bounded waits on either database (see the timeouts above)."""
    kwargs.setdefault("json_serializer", _json_dumps)
    connect_args = dict(kwargs.pop("connect_args", {}))
    if url.startswith("sqlite"):
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False, **connect_args}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            # The scorer's batches upsert entity stats under hashed keys, so each touches pages all over the
            # table; at the default 1,000-page threshold nearly every small batch's commit ran a checkpoint
            # (docs/performance-2026-11.md). A larger WAL lets a page checkpoint once for many batches.
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        timeouts = f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000} -c lock_timeout={STATEMENT_TIMEOUT_S * 1000}"
        # Options already in the URL (``?options=-csearch_path%3D...``) or the caller's connect_args are kept.
        given = [connect_args.get("options"), make_url(url).query.get("options")]
        connect_args["options"] = " ".join([*(str(o) for o in given if o), timeouts])
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
