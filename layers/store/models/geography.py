"""Boundaries, administrative units and the Geo-social layers and rasters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.vocab import UNIT_LEVELS
from layers.store.models.base import Base


class BoundaryVersion(Base):
    """One loaded boundary layer: where it came from and what loading it did."""

    __tablename__ = "boundary_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text, doc="file name and layer")
    sha256: Mapped[str] = mapped_column(String(64), index=True, doc="of the file")
    features: Mapped[int] = mapped_column(Integer)
    attribution: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AdminUnit(Base):
    """A province, district or subdistrict, keyed by its registry (DOPA) code."""

    __tablename__ = "admin_unit"
    __table_args__ = (
        CheckConstraint(f"level IN {UNIT_LEVELS}", name="level"),
        CheckConstraint("source IN ('boundary', 'attribute', 'registry')", name="source"),
        Index("ix_admin_unit_geom", "geom", postgresql_using="gist"),
    )

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code", ondelete="RESTRICT"), index=True
    )
    pcode: Mapped[str | None] = mapped_column(String(24), unique=True, doc="COD-AB pcode")
    name_th: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True, deferred=True
    )
    area_km2: Mapped[float | None] = mapped_column(Float)
    utm_epsg: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(
        String(16),
        doc="boundary: polygon loaded; attribute: named by a child layer; registry: no polygon",
    )
    in_registry: Mapped[bool | None] = mapped_column(Boolean, doc="null until `boundaries check`")
    boundary_version_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_version.id"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AdminUnitPart(Base):
    """Pieces of unit polygons cut by ``ST_Subdivide``, for fast point-in-polygon."""

    __tablename__ = "admin_unit_part"
    __table_args__ = (Index("ix_admin_unit_part_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    geom: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False))


class Layer(Base):
    """One imported Geo-social vector layer (water sources, waterways, zones, land use)."""

    __tablename__ = "layer"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_crs: Mapped[str | None] = mapped_column(Text)
    features: Mapped[int] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id"))
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LayerFeature(Base):
    """A feature of a layer, in EPSG:4326; ``status`` applies to water sources."""

    __tablename__ = "layer_feature"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("layer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    source_row: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))


class Raster(Base):
    """A registered raster: the API and CLI name it by ``id``, never by a path."""

    __tablename__ = "raster"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    stored_as: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    crs: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bands: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(16))
    nodata: Mapped[float | None] = mapped_column(Float)
    resolution: Mapped[list[float]] = mapped_column(ARRAY(Float))
    units: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    footprint: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=4326))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
