"""The "is it solved?" question put to a household some weeks after its case was resolved.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "solved_question",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "case_id",
            sa.BigInteger,
            sa.ForeignKey("problem_case.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "report_id",
            sa.BigInteger,
            sa.ForeignKey("citizen_report.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("resolved_on", sa.Date, nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("case_id", "resolved_on"),
    )


def downgrade() -> None:
    op.drop_table("solved_question")
