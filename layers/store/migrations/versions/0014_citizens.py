"""Citizens: one-time enrolment codes, the problems citizens report, their audit events, and
Thai full-text search of reports and of cases' updates.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


EVENTS = (
    "'login', 'login_failed', 'login_throttled', 'logout', "
    "'code_issued', 'enrolled', 'enrol_failed', 'enrol_throttled'"
)
OLD_EVENTS = "'login', 'login_failed', 'login_throttled', 'logout'"


def upgrade() -> None:
    op.drop_constraint("ck_auth_event_event", "auth_event", type_="check")
    op.create_check_constraint("ck_auth_event_event", "auth_event", f"event IN ({EVENTS})")
    op.create_table(
        "enrolment_code",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("household_id", sa.Text(collation="C"), nullable=False),
        sa.Column("subdistrict_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("used_by", sa.Text),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_enrolment_code_household", "enrolment_code", ["household_id"])
    op.create_table(
        "citizen_report",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("household_id", sa.Text(collation="C"), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column(
            "category", sa.String(48), sa.ForeignKey("problem_category.code"), nullable=False
        ),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", 4326, spatial_index=False), nullable=False),
        sa.Column("place", sa.String(12), nullable=False),
        sa.Column("place_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("subdistrict_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, server_default="to_verify"),
        sa.Column("source", sa.String(24), nullable=False, server_default="citizen"),
        sa.Column("reporter", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column(
            "reported_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
        sa.Column("duplicate_of", sa.BigInteger, sa.ForeignKey("citizen_report.id")),
        sa.Column("search", TSVECTOR),
        sa.CheckConstraint(
            "state IN ('to_verify', 'verified', 'rejected')", name="ck_citizen_report_state"
        ),
        sa.CheckConstraint("place IN ('household', 'map')", name="ck_citizen_report_place"),
    )
    op.create_index("ix_citizen_report_queue", "citizen_report", ["subdistrict_code", "state"])
    op.create_index("ix_citizen_report_reporter", "citizen_report", ["reporter"])
    op.create_index("ix_citizen_report_household", "citizen_report", ["household_id"])
    op.create_index("ix_citizen_report_address", "citizen_report", ["address", "reported_at"])
    op.create_index("ix_citizen_report_geom", "citizen_report", ["geom"], postgresql_using="gist")
    op.create_index(
        "ix_citizen_report_search", "citizen_report", ["search"], postgresql_using="gin"
    )
    # A case's updates, searchable in Thai (the notes written from now on).
    op.add_column("case_event", sa.Column("search", TSVECTOR))
    op.create_index("ix_case_event_search", "case_event", ["search"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_case_event_search", table_name="case_event")
    op.drop_column("case_event", "search")
    op.drop_table("citizen_report")
    op.drop_table("enrolment_code")
    op.execute(
        "DELETE FROM auth_event WHERE event NOT IN "
        "('login', 'login_failed', 'login_throttled', 'logout')"
    )
    op.drop_constraint("ck_auth_event_event", "auth_event", type_="check")
    op.create_check_constraint("ck_auth_event_event", "auth_event", f"event IN ({OLD_EVENTS})")
