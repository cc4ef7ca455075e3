"""Analysis: Geo-social vector layers, registered rasters, spatial weights, hotspot and
targeting runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VECTOR_KINDS = "('water_sources', 'waterways', 'flood_zones', 'drought_zones', 'land_use')"


def _created() -> sa.Column[Any]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "layer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source_crs", sa.Text),
        sa.Column("features", sa.Integer, nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("import_job_id", sa.Integer, sa.ForeignKey("import_job.id")),
        sa.Column("report", JSONB, nullable=False, server_default="{}"),
        _created(),
        sa.UniqueConstraint("kind", "sha256", name="uq_layer_kind_file"),
        sa.CheckConstraint(f"kind IN {VECTOR_KINDS}", name="kind"),
    )
    op.create_table(
        "layer_feature",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "layer_id", sa.Integer, sa.ForeignKey("layer.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("source_row", sa.Integer, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.String(16)),
        sa.Column("properties", JSONB, nullable=False, server_default="{}"),
        sa.Column("flags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint("status IN ('working', 'broken', 'unknown')", name="status"),
    )
    op.create_index("ix_layer_feature_geom", "layer_feature", ["geom"], postgresql_using="gist")
    op.create_index("ix_layer_feature_kind", "layer_feature", ["kind", "status"])
    # Zones cut small, so that point-in-zone tests stay fast however large a zone is.
    op.create_table(
        "layer_part",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "feature_id",
            sa.BigInteger,
            sa.ForeignKey("layer_feature.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("geom", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.create_index("ix_layer_part_geom", "layer_part", ["geom"], postgresql_using="gist")
    op.create_table(
        "raster",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False, doc="the file it was imported from"),
        sa.Column("stored_as", sa.Text, nullable=False, doc="under BAMRUNG_HOME/rasters"),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("crs", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("bands", sa.Integer, nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("nodata", sa.Float),
        sa.Column("resolution", ARRAY(sa.Float), nullable=False),
        sa.Column("units", sa.Text),
        sa.Column("synthetic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("description", sa.Text),
        sa.Column("footprint", Geometry("POLYGON", srid=4326), nullable=False),
        _created(),
    )
    op.create_table(
        "spatial_weights",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("boundaries", sa.Text, nullable=False, doc="digest of the unit codes and shapes"),
        sa.Column("ids", ARRAY(sa.Text), nullable=False),
        sa.Column("focal", ARRAY(sa.Integer), nullable=False),
        sa.Column("neighbor", ARRAY(sa.Integer), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        _created(),
        sa.UniqueConstraint("level", "method", "boundaries", name="uq_spatial_weights"),
    )
    op.create_table(
        "hotspot_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("indicator", sa.Text, nullable=False),
        sa.Column("weights_id", sa.Integer, sa.ForeignKey("spatial_weights.id"), nullable=False),
        sa.Column("parameters", JSONB, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        _created(),
    )
    op.create_table(
        "hotspot_result",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("hotspot_run.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("gi_z", sa.Float),
        sa.Column("gi_p", sa.Float),
        sa.Column("gi_class", sa.String(16), nullable=False),
        sa.Column("moran_i", sa.Float),
        sa.Column("moran_z", sa.Float),
        sa.Column("moran_p", sa.Float),
        sa.Column("moran_quadrant", sa.String(2)),
        sa.Column("moran_class", sa.String(16), nullable=False),
    )
    op.create_table(
        "target_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        _created(),
    )
    op.create_table(
        "target_score",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("target_run.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("components", JSONB, nullable=False),
    )
    # Layers QGIS can open as they are: the latest run's results with the area's outline.
    for run, result, view in (
        ("hotspot_run", "hotspot_result", "hotspot_layer"),
        ("target_run", "target_score", "target_layer"),
    ):
        op.execute(
            f"CREATE VIEW {view} AS SELECT r.*, u.name_th, u.name_en, u.geom "  # noqa: S608
            f"FROM {result} r JOIN admin_unit u ON u.code = r.code "
            f"WHERE r.run_id = (SELECT max(id) FROM {run})"
        )


def downgrade() -> None:
    op.execute("DROP VIEW target_layer")
    op.execute("DROP VIEW hotspot_layer")
    for table in (
        "target_score",
        "target_run",
        "hotspot_result",
        "hotspot_run",
        "spatial_weights",
        "raster",
        "layer_part",
        "layer_feature",
        "layer",
    ):
        op.drop_table(table)
