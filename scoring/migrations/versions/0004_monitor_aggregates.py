"""monitoring aggregates: per hour, hub and model version counts and binned histograms; judged windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_counts",
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("in_scope", sa.Integer(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.Column("flagged_by_why", sa.JSON(), nullable=False),
        sa.Column("by_origin", sa.JSON(), nullable=False),
        sa.Column("capacity_per_hour", sa.Integer(), nullable=True),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hour_start", "hub_id", "model_version", name=op.f("pk_monitor_counts")),
    )
    op.create_table(
        "monitor_histograms",
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("bins_id", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("hour_start", "hub_id", "model_version", "role", name=op.f("pk_monitor_histograms")),
    )
    op.create_table(
        "monitor_evaluated",
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("granularity", "window_start", name=op.f("pk_monitor_evaluated")),
    )


def downgrade() -> None:
    op.drop_table("monitor_evaluated")
    op.drop_table("monitor_histograms")
    op.drop_table("monitor_counts")
