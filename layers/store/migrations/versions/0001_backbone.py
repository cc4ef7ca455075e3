"""Backbone: administrative units, their subdivided parts, boundary versions, problem taxonomy.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = "('province', 'district', 'subdistrict', 'village', 'community')"
DIMENSIONS = "('health', 'living_conditions', 'education', 'income', 'public_services')"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "boundary_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("features", sa.Integer, nullable=False),
        sa.Column("attribution", sa.Text),
        sa.Column("licence", sa.Text),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("report", JSONB, nullable=False, server_default="{}"),
    )
    op.create_table(
        "admin_unit",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False, index=True),
        sa.Column(
            "parent_code",
            sa.String(16),
            sa.ForeignKey("admin_unit.code", ondelete="RESTRICT"),
            index=True,
        ),
        sa.Column("pcode", sa.String(24), unique=True),
        sa.Column("name_th", sa.Text),
        sa.Column("name_en", sa.Text),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
        sa.Column("area_km2", sa.Float),
        sa.Column("utm_epsg", sa.Integer),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("in_registry", sa.Boolean),
        sa.Column("boundary_version_id", sa.Integer, sa.ForeignKey("boundary_version.id")),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"level IN {LEVELS}", name="level"),
        sa.CheckConstraint("source IN ('boundary', 'attribute', 'registry')", name="source"),
    )
    op.create_index("ix_admin_unit_geom", "admin_unit", ["geom"], postgresql_using="gist")
    op.create_table(
        "admin_unit_part",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "code",
            sa.String(16),
            sa.ForeignKey("admin_unit.code", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("geom", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.create_index("ix_admin_unit_part_geom", "admin_unit_part", ["geom"], postgresql_using="gist")
    op.create_table(
        "problem_category",
        sa.Column("code", sa.String(48), primary_key=True),
        sa.Column("name_th", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("dimension", sa.String(24), nullable=False),
        sa.Column("within_mandate", sa.Boolean, nullable=False),
        sa.Column("mandate", sa.Text, nullable=False),
        sa.Column("sensitive", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("default_agency", sa.Text, nullable=False),
        sa.Column("agencies", JSONB, nullable=False, server_default="[]"),
        sa.Column("sort_order", sa.Integer, nullable=False),
        sa.CheckConstraint(f"dimension IN {DIMENSIONS}", name="dimension"),
    )


def downgrade() -> None:
    op.drop_table("problem_category")
    op.drop_table("admin_unit_part")
    op.drop_table("admin_unit")
    op.drop_table("boundary_version")
