"""Thai full-text search of imported problems' details: their words, kept beside the problems
(an update of ``problem`` would wake its roll-up triggers), filled by the worker after imports.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "problem_search",
        sa.Column("household_id", sa.Text(collation="C"), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("search", TSVECTOR, nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id", "round", "category"],
            ["problem.household_id", "problem.round", "problem.category"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )
    op.create_index("ix_problem_search_words", "problem_search", ["search"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("problem_search")
