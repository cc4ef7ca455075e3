"""Delivery: exports run on the job queue (``export_job``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_job",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="queued"),
        sa.Column("progress", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("features", sa.Integer),
        sa.Column("file_name", sa.Text),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("households", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name="ck_export_job_state"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="ck_export_job_progress"),
    )
    op.create_index("ix_export_job_user", "export_job", ["user_name", "created_at"])


def downgrade() -> None:
    op.drop_table("export_job")
