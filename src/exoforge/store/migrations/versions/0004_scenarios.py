"""Scenarios and their immutable, numbered revisions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from exoforge.store.migrations.triggers import drop_permanent, make_permanent

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("head_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_scenarios_project_id", "scenarios", ["project_id"])
    op.create_table(
        "scenario_revisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", DOCUMENT, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=True),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.UniqueConstraint("scenario_id", "number", name="uq_scenario_revisions_number"),
        sa.CheckConstraint("number >= 1", name="ck_scenario_revisions_number"),
    )
    op.create_index("ix_scenario_revisions_scenario_id", "scenario_revisions", ["scenario_id"])
    make_permanent("scenario_revisions")


def downgrade() -> None:
    drop_permanent("scenario_revisions")
    op.drop_index("ix_scenario_revisions_scenario_id", table_name="scenario_revisions")
    op.drop_table("scenario_revisions")
    op.drop_index("ix_scenarios_project_id", table_name="scenarios")
    op.drop_table("scenarios")
