"""Community issues tracked as cases: a case is a household's problem or a community's issue.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("problem_case", "household_id", nullable=True)
    op.add_column(
        "problem_case",
        sa.Column(
            "issue_id",
            sa.BigInteger,
            sa.ForeignKey("community_issue.id", ondelete="CASCADE"),
            unique=True,
        ),
    )
    op.create_check_constraint(
        "ck_problem_case_whose", "problem_case", "(household_id IS NULL) <> (issue_id IS NULL)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM problem_case WHERE issue_id IS NOT NULL")
    op.drop_constraint("ck_problem_case_whose", "problem_case", type_="check")
    op.drop_column("problem_case", "issue_id")
    op.alter_column("problem_case", "household_id", nullable=False)
