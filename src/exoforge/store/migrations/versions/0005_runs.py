"""Runs: a scenario revision simulated, with parameters, evidence hash, version, seed and result.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from exoforge.store.migrations.triggers import drop_permanent, make_permanent

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id"), nullable=False),
        sa.Column("revision_id", sa.String(32), sa.ForeignKey("scenario_revisions.id"), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("exclude_refs", DOCUMENT, nullable=False),
        sa.Column("exoforge_version", sa.String(40), nullable=False),
        sa.Column("evidence_hash", sa.String(64), nullable=False),
        sa.Column("parameters", DOCUMENT, nullable=False),
        sa.Column("parameters_hash", sa.String(64), nullable=False),
        sa.Column("result", DOCUMENT, nullable=True),
        sa.Column("result_hash", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("rerun_of", sa.String(32), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name="ck_runs_status"),
    )
    op.create_index("ix_runs_project_id", "runs", ["project_id"])
    op.create_index("ix_runs_scenario_id", "runs", ["scenario_id"])
    make_permanent("runs")


def downgrade() -> None:
    drop_permanent("runs")
    op.drop_index("ix_runs_scenario_id", table_name="runs")
    op.drop_index("ix_runs_project_id", table_name="runs")
    op.drop_table("runs")
