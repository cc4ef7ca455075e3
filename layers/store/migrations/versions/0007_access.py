"""Users, API tokens and the append-only access log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = (
    "('citizen', 'community_leader', 'officer', 'governor', 'agency_officer', 'reviewer', "
    "'analyst', 'admin')"
)
APPEND_ONLY = """
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("area", sa.String(6), nullable=False, server_default=""),
        sa.Column("categories", ARRAY(sa.Text)),
        sa.Column("household_id", sa.Text),
        sa.Column("community", sa.Text),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"role IN {ROLES}", name="role"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("households", ARRAY(sa.Text), nullable=False),
        sa.Column("fields", ARRAY(sa.Text), nullable=False),
    )
    op.create_index(
        "ix_access_log_households", "access_log", ["households"], postgresql_using="gin"
    )
    op.create_index("ix_access_log_user_at", "access_log", ["user_name", "at"])
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.drop_table("access_log")
    op.execute("DROP FUNCTION access_log_append_only()")
    op.drop_table("api_token")
    op.drop_table("app_user")
