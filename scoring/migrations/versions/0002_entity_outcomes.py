"""entity outcome counts: screened and seized parcels per entity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entity_stats") as batch:
        batch.add_column(sa.Column("screened", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("seized", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("entity_stats") as batch:
        batch.drop_column("seized")
        batch.drop_column("screened")
