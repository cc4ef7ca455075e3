"""The web application: sessions of signed-in users (kept as SHA-256, ended server-side), the
audit log of sign-ins, and each user's language.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("lang", sa.String(2), nullable=False, server_default="th"),
    )
    op.create_check_constraint("ck_app_user_lang", "app_user", "lang IN ('th', 'en')")
    op.create_table(
        "web_session",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("address", sa.Text, nullable=False),
    )
    op.create_index("ix_web_session_user", "web_session", ["user_id"])
    op.create_table(
        "auth_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("through", sa.String(8), nullable=False),
        sa.CheckConstraint(
            "event IN ('login', 'login_failed', 'login_throttled', 'logout')",
            name="ck_auth_event_event",
        ),
    )
    op.create_index("ix_auth_event_at", "auth_event", ["at"])
    op.create_index("ix_auth_event_user", "auth_event", ["user_name", "at"])


def downgrade() -> None:
    op.drop_table("auth_event")
    op.drop_table("web_session")
    op.drop_constraint("ck_app_user_lang", "app_user")
    op.drop_column("app_user", "lang")
