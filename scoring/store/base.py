"""What every repository shares: the engine and the dialect's INSERT ... ON CONFLICT."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine


class Repository:
    """One job's reads and writes over a shared engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"
