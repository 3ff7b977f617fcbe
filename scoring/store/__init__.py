"""The store: the only code that writes to the database, as small repositories behind one facade.

``Store(engine)`` gives callers one object; each attribute is a repository with one job, returning
typed rows (``scoring.store.rows``):

- ``decisions`` (the decision log) and ``stats`` (entity history): written together per batch
- ``queue`` (waiting parcels, claims held, hub counts, search) and ``claims`` (take, take next, release)
- ``outcomes``: screening outcomes and late labels, crediting the parcel's entities
- ``reads``: the log for training, evaluation and monitoring
- ``access``: API keys, sessions and whom a token belongs to
- ``hubs``: the hub registry (reference data every hub id is checked against)
- ``alerts``, ``workers``, ``capacity``, ``audit``: operations
- ``aggregates``: the decision log folded per hour, hub and model version for monitoring
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from scoring.store.access import Access, token_digest
from scoring.store.aggregates import Aggregates
from scoring.store.audit import AuditLog
from scoring.store.claims import Claims
from scoring.store.decisions import Decisions, EntityStats
from scoring.store.hubs import Hubs
from scoring.store.operations import Alerts, Capacity, Workers
from scoring.store.outcomes import Outcomes
from scoring.store.queue import Queue
from scoring.store.reads import DecisionReads
from scoring.store.rows import DecisionRecord, LabelledRow

__all__ = ["DecisionRecord", "LabelledRow", "Store", "token_digest"]


class Store:
    """Every read and write ParcelGuard makes to its database, one repository per job."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.decisions = Decisions(engine)
        self.stats = EntityStats(engine)
        self.queue = Queue(engine)
        self.claims = Claims(engine)
        self.outcomes = Outcomes(engine)
        self.reads = DecisionReads(engine)
        self.access = Access(engine)
        self.alerts = Alerts(engine)
        self.workers = Workers(engine)
        self.capacity = Capacity(engine)
        self.hubs = Hubs(engine)
        self.audit = AuditLog(engine)
        self.aggregates = Aggregates(engine)

    def create_schema(self) -> None:
        """Bring the database to the newest migration (the schema only ever comes from scoring/migrations)."""
        from scoring import migrations  # Alembic is only needed here, not by every importer of the store

        migrations.upgrade(self.engine)
