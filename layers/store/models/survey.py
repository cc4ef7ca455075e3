"""The survey: problem categories, import jobs, households, problems, quarantined rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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
    Integer,
    Sequence,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.vocab import DIMENSIONS
from layers.store.models.base import Base


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
