"""LINE: the LINE accounts linked to citizens' accounts, and the short-lived codes that link
them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "line_link",
        sa.Column("line_user_id", sa.Text, primary_key=True),
        sa.Column(
            "username",
            sa.Text,
            sa.ForeignKey("app_user.name", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "line_link_code",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column(
            "username",
            sa.Text,
            sa.ForeignKey("app_user.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("line_link_code")
    op.drop_table("line_link")
