"""Case hand-off: agencies, offices, routes, deadlines, cases, their append-only history and
outbox, an agency officer's office, and the job queue's own schema (procrastinate).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = (
    "('new', 'referred', 'acknowledged', 'in_progress', 'resolved', 'verified', 'rejected', "
    "'reopened', 'closed_unsolved')"
)
APPEND_ONLY = """
CREATE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_event is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_event_no_update BEFORE UPDATE OR DELETE ON case_event
    FOR EACH ROW EXECUTE FUNCTION case_event_append_only();
CREATE TRIGGER case_event_no_truncate BEFORE TRUNCATE ON case_event
    FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only();
"""
#: What the figures of escalated cases read.
ESCALATED_FIGURES = [
    "state", "acknowledged_on", "acknowledge_by", "resolve_by", "acknowledge_days",
    "resolve_days", "resolution", "reroutes", "level", "escalated", "office", "category",
]  # fmt: skip
#: The job queue keeps its tables and functions apart from the platform's.
QUEUE_SCHEMA = "procrastinate"


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.add_column("app_user", sa.Column("office", sa.String(48)))
    op.create_table(
        "agency",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("ministry", sa.Text, nullable=False),
        sa.Column("district_team", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "office",
        sa.Column("code", sa.String(48), primary_key=True),
        sa.Column(
            "agency",
            sa.String(32),
            sa.ForeignKey("agency.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("areas", ARRAY(sa.Text), nullable=False),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("contact", sa.Text),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False)),
        sa.Column("channel", sa.String(16), nullable=False, server_default="none"),
        sa.Column("webhook_url", sa.Text),
        sa.CheckConstraint("level IN ('nation', 'province', 'district', 'districts')", "level"),
        sa.CheckConstraint("channel IN ('none', 'webhook')", "channel"),
        sa.CheckConstraint("(channel = 'webhook') = (webhook_url IS NOT NULL)", "webhook"),
    )
    op.create_table(
        "route",
        sa.Column(
            "category",
            sa.String(48),
            sa.ForeignKey("problem_category.code", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("area", sa.String(6, collation="C"), primary_key=True),
        sa.Column(
            "office",
            sa.String(48),
            sa.ForeignKey("office.code", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "case_deadline",
        sa.Column("category", sa.String(48), primary_key=True),
        sa.Column("agency", sa.String(32), primary_key=True),
        sa.Column("acknowledge_days", sa.Integer, nullable=False),
        sa.Column("resolve_days", sa.Integer, nullable=False),
        sa.CheckConstraint("acknowledge_days >= 0 AND resolve_days >= 0", "days"),
    )
    op.create_table(
        "problem_case",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("household_id", sa.Text(collation="C"), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("category", sa.String(48), nullable=False),
        sa.Column("subdistrict_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("office", sa.String(48), sa.ForeignKey("office.code"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(24)),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("level", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("routed_on", sa.Date, nullable=False),
        sa.Column("acknowledge_by", sa.Date),
        sa.Column("resolve_by", sa.Date),
        sa.Column("expected_on", sa.Date),
        sa.Column("acknowledged_on", sa.Date),
        sa.Column("resolved_on", sa.Date),
        sa.Column("acknowledge_days", sa.SmallInteger),
        sa.Column("resolve_days", sa.SmallInteger),
        sa.Column("rejections", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("reroutes", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id", "round", "category"],
            ["problem.household_id", "problem.round", "problem.category"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.UniqueConstraint("household_id", "round", "category", name="uq_problem_case_problem"),
        sa.CheckConstraint(f"state IN {STATES}", "state"),
        sa.CheckConstraint("level BETWEEN 0 AND 3", "level"),
    )
    op.create_index("ix_problem_case_office", "problem_case", ["office", "state"])
    op.create_index("ix_problem_case_area", "problem_case", ["subdistrict_code"])
    # The reviewers' national figures read escalated cases only, from this index alone.
    op.create_index(
        "ix_problem_case_escalated",
        "problem_case",
        ["subdistrict_code"],
        postgresql_include=ESCALATED_FIGURES,
        postgresql_where=sa.text("escalated OR level > 0"),
    )
    op.create_table(
        "case_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("office", sa.String(48)),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.Column("request_id", sa.Text),
    )
    op.create_index("ix_case_event_case", "case_event", ["case_id", "id"])
    # Re-imports find the categories cases corrected.
    op.create_index(
        "ix_case_event_recategorised",
        "case_event",
        ["case_id"],
        postgresql_where=sa.text("details ? 'from_category'"),
    )
    # The figures count refusals by the office that refused.
    op.create_index(
        "ix_case_event_reject",
        "case_event",
        ["case_id"],
        postgresql_where=sa.text("action = 'reject'"),
    )
    op.create_table(
        "case_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("office", sa.String(48), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')", "state"),
    )
    op.create_index("ix_case_outbox_due", "case_outbox", ["state", "next_at"])
    op.create_table(
        "case_attachment",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "case_id",
            sa.BigInteger,
            sa.ForeignKey("problem_case.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.execute(APPEND_ONLY)
    op.execute(f"CREATE SCHEMA {QUEUE_SCHEMA}")
    # Straight to psycopg: the queue's SQL has percent signs and colons that are not parameters.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(f"SET LOCAL search_path = {QUEUE_SCHEMA}, public")
    driver.execute(SchemaManager.get_schema())
    driver.execute("SET LOCAL search_path = public")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {QUEUE_SCHEMA} CASCADE")
    for table in (
        "case_attachment",
        "case_outbox",
        "case_event",
        "problem_case",
        "case_deadline",
        "route",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION case_event_append_only()")
    op.drop_table("office")
    op.drop_table("agency")
    op.drop_column("app_user", "office")
