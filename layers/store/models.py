"""Tables of the platform (SQLAlchemy 2 + GeoAlchemy2). Alembic migrations create them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.vocab import DIMENSIONS, UNIT_LEVELS


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


PRECISIONS = ("gps", "gps_corrected", "village", "subdistrict", "district")


class ImportJob(Base):
    """One run of `bamrung import` (or an upload) over one file."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    round: Mapped[int | None] = mapped_column(Integer)
    profile: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str | None] = mapped_column(Text)
    """The user who uploaded the file (None: the command line)."""


class Household(Base):
    """A household as surveyed in one round (Buddhist Era year); its id is kept across rounds.

    Partitioned by round (``household_r2567``…): see ``layers.store.partitions``.
    """

    __tablename__ = "household"
    __table_args__ = ({"postgresql_partition_by": "LIST (round)"},)

    household_id: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    house_no: Mapped[str | None] = mapped_column(Text)
    moo: Mapped[int | None] = mapped_column(Integer)
    declared_subdistrict: Mapped[str] = mapped_column(String(6))
    community: Mapped[str | None] = mapped_column(Text)
    members: Mapped[int | None] = mapped_column(Integer)
    urban: Mapped[bool | None] = mapped_column(Boolean)
    head_id_hash: Mapped[str | None] = mapped_column(String(64))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    precision: Mapped[str] = mapped_column(String(16))
    outside_m: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    subdistrict_code: Mapped[str] = mapped_column(String(6))
    district_code: Mapped[str] = mapped_column(String(4))
    province_code: Mapped[str] = mapped_column(String(2))
    surveyed_on: Mapped[date | None] = mapped_column(Date)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id"))
    source_row: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Problem(Base):
    """One problem of a household in one round; status follows it until it is solved.

    Partitioned by round like households. ``id`` is a number from a sequence, not indexed.
    """

    __tablename__ = "problem"
    __table_args__ = (
        ForeignKeyConstraint(
            ["household_id", "round"],
            ["household.household_id", "household.round"],
            ondelete="CASCADE",
        ),
        {"postgresql_partition_by": "LIST (round)"},
    )

    household_id: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(ForeignKey("problem_category.code"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Sequence("problem_id_seq"))
    subdistrict_code: Mapped[str] = mapped_column(String(6), doc="its household's, kept in step")
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    reported_on: Mapped[date | None] = mapped_column(Date)
    updated_on: Mapped[date | None] = mapped_column(Date)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id"))
    source_row: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QuarantinedRow(Base):
    """An input row that was not imported, with machine-readable reasons."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    row_number: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text))
    messages: Mapped[list[str]] = mapped_column(ARRAY(Text))
    values: Mapped[dict[str, Any]] = mapped_column()
    subdistrict_code: Mapped[str | None] = mapped_column(String(6, collation="C"))
    """The subdistrict the row declared, when it is a well-formed code: who may see the row."""


class Rollup(Base):
    """Counts per round and area, kept current by triggers (see migration 0003).

    ``code`` is '' for the country, else a 2-, 4- or 6-digit area code; ``key`` is
    ``households``, ``affected`` and ``affected:<dimension>`` (households with problems), and
    ``status:<s>``, ``category:<c>``, ``dimension:<d>``, ``dimension_status:<d>:<s>`` (problems).
    """

    __tablename__ = "rollup"

    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6, collation="C"), primary_key=True)
    key: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


VECTOR_KINDS = ("water_sources", "waterways", "flood_zones", "drought_zones", "land_use")


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


class SpatialWeights(Base):
    """Contiguity weights over a level's units, built once per boundary version."""

    __tablename__ = "spatial_weights"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(Text)
    boundaries: Mapped[str] = mapped_column(Text)
    ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    focal: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    neighbor: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HotspotRun(Base):
    __tablename__ = "hotspot_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(6))
    round: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(Text)
    weights_id: Mapped[int] = mapped_column(ForeignKey("spatial_weights.id"))
    parameters: Mapped[dict[str, Any]] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HotspotResult(Base):
    __tablename__ = "hotspot_result"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("hotspot_run.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    gi_z: Mapped[float | None] = mapped_column(Float)
    gi_p: Mapped[float | None] = mapped_column(Float)
    gi_class: Mapped[str] = mapped_column(String(16))
    moran_i: Mapped[float | None] = mapped_column(Float)
    moran_z: Mapped[float | None] = mapped_column(Float)
    moran_p: Mapped[float | None] = mapped_column(Float)
    moran_quadrant: Mapped[str | None] = mapped_column(String(2))
    moran_class: Mapped[str] = mapped_column(String(16))


class TargetRun(Base):
    __tablename__ = "target_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(6))
    round: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    """A digest of what the run was computed from: a view reuses the run while it is the same."""


class TargetScore(Base):
    __tablename__ = "target_score"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("target_run.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column()


class AppUser(Base):
    """A person or a script that uses the API; the role and assignment give its scope."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    area: Mapped[str] = mapped_column(String(6), default="")
    categories: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    household_id: Mapped[str | None] = mapped_column(Text)
    community: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    """A long-lived token for QGIS and scripts, kept only as its SHA-256."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessLog(Base):
    """One response that carried personal fields: who, why, which households and fields."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(Text)
    """Ours, generated for every request."""
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    """The client's own ``X-Request-ID``, when it sent a well-formed one."""
    path: Mapped[str] = mapped_column(Text)
    households: Mapped[list[str]] = mapped_column(ARRAY(Text))
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))


class LoginFailure(Base):
    """A failed login, kept a short while to throttle guessing (see ``layers.access.users``)."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_user", "user_name", "at"),
        Index("ix_login_failure_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
