"""Citizens: enrolment codes a district team issues, and the problems citizens report."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from geo.citizens import PLACES, REPORT_STATES
from layers.store.models.base import Base


class EnrolmentCode(Base):
    """A one-time code that lets a household's member set a password (only its digest kept)."""

    __tablename__ = "enrolment_code"
    __table_args__ = (Index("ix_enrolment_code_household", "household_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[str] = mapped_column(Text(collation="C"))
    subdistrict_code: Mapped[str] = mapped_column(String(6, collation="C"))
    issued_by: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(Text)
    """The citizen account it made."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a newer code for the household replaced it."""


class CitizenReport(Base):
    """A problem a citizen reported: waits for the district team, then is a problem or not."""

    __tablename__ = "citizen_report"
    __table_args__ = (
        CheckConstraint(f"state IN {REPORT_STATES}", name="ck_citizen_report_state"),
        CheckConstraint(f"place IN {PLACES}", name="ck_citizen_report_place"),
        Index("ix_citizen_report_queue", "subdistrict_code", "state"),
        Index("ix_citizen_report_reporter", "reporter"),
        Index("ix_citizen_report_household", "household_id"),
        Index("ix_citizen_report_address", "address", "reported_at"),
        Index("ix_citizen_report_geom", "geom", postgresql_using="gist"),
        Index("ix_citizen_report_search", "search", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    household_id: Mapped[str] = mapped_column(Text(collation="C"))
    round: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(ForeignKey("problem_category.code"))
    detail: Mapped[str] = mapped_column(Text)
    geom: Mapped[str] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    place: Mapped[str] = mapped_column(String(12))
    place_code: Mapped[str] = mapped_column(String(6, collation="C"))
    """The subdistrict the place lies in."""
    subdistrict_code: Mapped[str] = mapped_column(String(6, collation="C"))
    """The household's: whose district team decides the report."""
    state: Mapped[str] = mapped_column(String(12), server_default="to_verify")
    source: Mapped[str] = mapped_column(String(24), server_default="citizen")
    reporter: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    """The network address it came from: reports are limited per address."""
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    """Why it was not made a problem."""
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("citizen_report.id"))
    search: Mapped[str | None] = mapped_column(TSVECTOR)
    """The description's words (``geo.search``), for Thai full-text search."""
