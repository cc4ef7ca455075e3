"""Citizens and communities: enrolment codes, citizens' reports, and communities' meetings.

The municipal communities carry their planning meetings, the issues raised and plan items.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from geo.citizens import PLACES, REPORT_STATES
from geo.communities import ISSUE_STATES, SOURCE
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


class Community(Base):
    """A municipal community: an area (or a point) of its municipality, with its names."""

    __tablename__ = "community"
    __table_args__ = (Index("ix_community_area", "subdistrict_code"),)

    code: Mapped[str] = mapped_column(String(24, collation="C"), primary_key=True)
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    subdistrict_code: Mapped[str] = mapped_column(String(6, collation="C"))
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", 4326, spatial_index=True))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(Text)


class PlanItem(Base):
    """A project of a municipality's local development plan (แผนพัฒนาท้องถิ่น)."""

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("subdistrict_code", "plan_year", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subdistrict_code: Mapped[str] = mapped_column(String(6, collation="C"))
    plan_year: Mapped[int] = mapped_column(Integer, doc="Buddhist Era")
    code: Mapped[str] = mapped_column(Text)
    name_th: Mapped[str] = mapped_column(Text)
    budget_line: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))


class CommunityMeeting(Base):
    """A community's planning meeting (ประชาคม): when, and how many came."""

    __tablename__ = "community_meeting"
    __table_args__ = (CheckConstraint("attendance >= 0", "attendance"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    community: Mapped[str] = mapped_column(ForeignKey("community.code", ondelete="CASCADE"))
    held_on: Mapped[date] = mapped_column(Date)
    attendance: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CommunityIssue(Base):
    """An issue raised in a meeting: the community's problem, public, followed to the plan."""

    __tablename__ = "community_issue"
    __table_args__ = (
        CheckConstraint(f"state IN {ISSUE_STATES}", "state"),
        CheckConstraint(f"source = '{SOURCE}'", "source"),
        CheckConstraint("priority BETWEEN 1 AND 5", "priority"),
        Index("ix_community_issue_community", "community", "state"),
        Index("ix_community_issue_search", "search", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("community_meeting.id", ondelete="CASCADE"))
    community: Mapped[str] = mapped_column(ForeignKey("community.code", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(ForeignKey("problem_category.code"))
    detail: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", 4326, spatial_index=False))
    votes: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(24), default=SOURCE)
    state: Mapped[str] = mapped_column(String(16), default="raised")
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_item.id"))
    updated_on: Mapped[date] = mapped_column(Date)
    search: Mapped[str | None] = mapped_column(TSVECTOR)


class LineLink(Base):
    """A LINE account linked to a citizen's account: its messages act for that household."""

    __tablename__ = "line_link"

    line_user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("app_user.name", ondelete="CASCADE"), unique=True
    )
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LineLinkCode(Base):
    """A short-lived code a citizen sends from LINE to link it (only its digest kept)."""

    __tablename__ = "line_link_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("app_user.name", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportPhoto(Base):
    """A photo of a citizen's report, re-encoded without its metadata, kept by its SHA-256."""

    __tablename__ = "report_photo"
    __table_args__ = (Index("ix_report_photo_report", "report_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("citizen_report.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SolvedQuestion(Base):
    """The question "is it solved?", asked of a household weeks after its case was resolved."""

    __tablename__ = "solved_question"
    __table_args__ = (UniqueConstraint("case_id", "resolved_on"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("problem_case.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("citizen_report.id", ondelete="CASCADE"))
    resolved_on: Mapped[date] = mapped_column(Date, doc="the resolution asked about")
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProblemSearch(Base):
    """The words of an imported problem's detail (PyThaiNLP), and the detail's digest.

    A detail changed by a later import has another digest, and is cut again.
    """

    __tablename__ = "problem_search"
    __table_args__ = (
        ForeignKeyConstraint(
            ["household_id", "round", "category"],
            ["problem.household_id", "problem.round", "problem.category"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index("ix_problem_search_words", "search", postgresql_using="gin"),
    )

    household_id: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(48), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32), doc="md5 of the detail")
    search: Mapped[str] = mapped_column(TSVECTOR)
