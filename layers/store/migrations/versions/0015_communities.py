"""Municipal communities, their planning meetings, the issues raised in them, and the local
development plan's items they are adopted into.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "('raised', 'adopted', 'in_progress', 'done', 'not_adopted')"


def upgrade() -> None:
    op.create_table(
        "community",
        sa.Column("code", sa.String(24, collation="C"), primary_key=True),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text),
        sa.Column("subdistrict_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", 4326, spatial_index=True), nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_index("ix_community_area", "community", ["subdistrict_code"])
    op.create_table(
        "plan_item",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("subdistrict_code", sa.String(6, collation="C"), nullable=False),
        sa.Column("plan_year", sa.Integer, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("budget_line", sa.Text),
        sa.Column("amount", sa.Numeric(14, 2)),
        sa.UniqueConstraint("subdistrict_code", "plan_year", "code"),
    )
    op.create_table(
        "community_meeting",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "community",
            sa.String(24, collation="C"),
            sa.ForeignKey("community.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("attendance", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attendance >= 0", "attendance"),
    )
    op.create_table(
        "community_issue",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "meeting_id",
            sa.BigInteger,
            sa.ForeignKey("community_meeting.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "community",
            sa.String(24, collation="C"),
            sa.ForeignKey("community.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "category", sa.String(48), sa.ForeignKey("problem_category.code"), nullable=False
        ),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", 4326, spatial_index=False)),
        sa.Column("votes", sa.Integer),
        sa.Column("priority", sa.SmallInteger),
        sa.Column("source", sa.String(24), nullable=False, server_default="community_meeting"),
        sa.Column("state", sa.String(16), nullable=False, server_default="raised"),
        sa.Column("plan_item_id", sa.BigInteger, sa.ForeignKey("plan_item.id")),
        sa.Column("updated_on", sa.Date, nullable=False),
        sa.Column("search", TSVECTOR),
        sa.CheckConstraint(f"state IN {STATES}", "state"),
        sa.CheckConstraint("source = 'community_meeting'", "source"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", "priority"),
    )
    op.create_index("ix_community_issue_community", "community_issue", ["community", "state"])
    op.create_index(
        "ix_community_issue_search", "community_issue", ["search"], postgresql_using="gin"
    )


def downgrade() -> None:
    for table in ("community_issue", "community_meeting", "plan_item", "community"):
        op.drop_table(table)
