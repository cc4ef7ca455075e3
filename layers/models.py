"""Tables of the platform (SQLAlchemy 2 + GeoAlchemy2). Alembic migrations create them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Levels of the administrative tree; village and community units come with later data.
UNIT_LEVELS = ("province", "district", "subdistrict", "village", "community")
DIMENSIONS = ("health", "living_conditions", "education", "income", "public_services")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


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


class ProblemCategory(Base):
    """One kind of household problem, from the editable taxonomy file."""

    __tablename__ = "problem_category"
    __table_args__ = (CheckConstraint(f"dimension IN {DIMENSIONS}", name="dimension"),)

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    dimension: Mapped[str] = mapped_column(String(24))
    within_mandate: Mapped[bool] = mapped_column(Boolean, doc="false: escalate to the agency")
    mandate: Mapped[str] = mapped_column(Text, doc="the ministry's share, in words")
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    default_agency: Mapped[str] = mapped_column(Text)
    agencies: Mapped[list[Any]] = mapped_column(default=list)
    sort_order: Mapped[int] = mapped_column(Integer)
