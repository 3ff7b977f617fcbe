"""monitoring label sums per hour and hub, the job's watermark on outcomes, outcomes indexed by recorded_at

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_labels",
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.Column("screened_labelled", sa.Integer(), nullable=False),
        sa.Column("screened_hits", sa.Integer(), nullable=False),
        sa.Column("model_labelled", sa.Integer(), nullable=False),
        sa.Column("model_hits", sa.Integer(), nullable=False),
        sa.Column("late_hits", sa.Integer(), nullable=False),
        sa.Column("explored_w", sa.Float(), nullable=False),
        sa.Column("explored_wy", sa.Float(), nullable=False),
        sa.Column("explored_ww", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour_start", "hub_id", name=op.f("pk_monitor_labels")),
    )
    # No watermark row: the job's next pass folds every hour's labels (an existing store is backfilled).
    op.create_table(
        "monitor_watermarks",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("value_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_watermarks")),
    )
    op.create_index(op.f("ix_outcomes_recorded_at"), "outcomes", ["recorded_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outcomes_recorded_at"), table_name="outcomes")
    op.drop_table("monitor_watermarks")
    op.drop_table("monitor_labels")
