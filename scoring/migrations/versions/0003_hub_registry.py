"""hub registry: hubs as reference data (id, name, time zone, default capacity); an index for a hub's day of scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hubs",
        sa.Column("hub_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("default_capacity", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hub_id", name=op.f("pk_hubs")),
    )
    op.create_index("ix_decisions_hub_day", "decisions", ["hub_id", "accepted_at", "score"])


def downgrade() -> None:
    op.drop_index("ix_decisions_hub_day", table_name="decisions")
    op.drop_table("hubs")
