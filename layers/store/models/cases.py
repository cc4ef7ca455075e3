"""Case hand-off: agencies, offices, routing rules, deadlines, cases, their history and outbox."""

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
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from layers.store.models.base import Base


class Agency(Base):
    """A government agency that holds the authority over some problems."""

    __tablename__ = "agency"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    ministry: Mapped[str] = mapped_column(Text)
    district_team: Mapped[bool] = mapped_column(Boolean, default=False)
    """Its district offices are the district teams: rejected cases fall back to them."""


class Office(Base):
    """One office of an agency and the area it covers (its codes; [''] is the nation)."""

    __tablename__ = "office"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    agency: Mapped[str] = mapped_column(ForeignKey("agency.code", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16), doc="nation, province, district or districts")
    areas: Mapped[list[str]] = mapped_column(ARRAY(Text))
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    """Where it is, when the file says; else maps use a point of its first area."""
    channel: Mapped[str] = mapped_column(String(16), default="none")
    webhook_url: Mapped[str | None] = mapped_column(Text)


class Route(Base):
    """Problems of ``category`` whose subdistrict code starts with ``area`` go to ``office``."""

    __tablename__ = "route"

    category: Mapped[str] = mapped_column(
        ForeignKey("problem_category.code", ondelete="CASCADE"), primary_key=True
    )
    area: Mapped[str] = mapped_column(String(6, collation="C"), primary_key=True)
    office: Mapped[str] = mapped_column(
        ForeignKey("office.code", ondelete="CASCADE"), primary_key=True
    )


class Deadline(Base):
    """Working days to acknowledge and to resolve ('' category or agency: any)."""

    __tablename__ = "case_deadline"

    category: Mapped[str] = mapped_column(String(48), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    acknowledge_days: Mapped[int] = mapped_column(Integer)
    resolve_days: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """The hand-off of one problem to one office at a time, until it is solved.

    The problem is a household's (``household_id``) or a community's issue (``issue_id``).
    """

    __tablename__ = "problem_case"
    __table_args__ = (
        ForeignKeyConstraint(
            ["household_id", "round", "category"],
            ["problem.household_id", "problem.round", "problem.category"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        UniqueConstraint("household_id", "round", "category", name="uq_problem_case_problem"),
        CheckConstraint("(household_id IS NULL) <> (issue_id IS NULL)", "ck_problem_case_whose"),
        Index("ix_problem_case_office", "office", "state"),
        Index("ix_problem_case_area", "subdistrict_code"),
        Index(
            "ix_problem_case_escalated",
            "subdistrict_code",
            postgresql_include=[
                "state", "acknowledged_on", "acknowledge_by", "resolve_by", "acknowledge_days",
                "resolve_days", "resolution", "reroutes", "level", "escalated", "office",
                "category",
            ],
            postgresql_where=text("escalated OR level > 0"),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    household_id: Mapped[str | None] = mapped_column(Text(collation="C"))
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_issue.id", ondelete="CASCADE"), unique=True
    )
    round: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(48))
    subdistrict_code: Mapped[str] = mapped_column(String(6, collation="C"))
    office: Mapped[str] = mapped_column(ForeignKey("office.code"))
    state: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(String(24))
    escalated: Mapped[bool] = mapped_column(Boolean, doc="outside the ministry's mandate")
    level: Mapped[int] = mapped_column(SmallInteger, default=0, doc="steps up the ladder")
    version: Mapped[int] = mapped_column(Integer, default=1)
    opened_on: Mapped[date] = mapped_column(Date)
    routed_on: Mapped[date] = mapped_column(Date, doc="handed to its office: its clock starts")
    acknowledge_by: Mapped[date | None] = mapped_column(Date)
    resolve_by: Mapped[date | None] = mapped_column(Date)
    expected_on: Mapped[date | None] = mapped_column(Date, doc="the office's own date")
    acknowledged_on: Mapped[date | None] = mapped_column(Date)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    acknowledge_days: Mapped[int | None] = mapped_column(SmallInteger)
    """Working days from its routing to its acknowledgement: kept for the figures."""
    resolve_days: Mapped[int | None] = mapped_column(SmallInteger)
    rejections: Mapped[int] = mapped_column(SmallInteger, default=0)
    reroutes: Mapped[int] = mapped_column(SmallInteger, default=0, doc="routes after the first")
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseEvent(Base):
    """One step of a case's history; the table is append-only (triggers refuse changes)."""

    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_case", "case_id", "id"),
        Index("ix_case_event_reject", "case_id", postgresql_where=text("action = 'reject'")),
        Index("ix_case_event_search", "search", postgresql_using="gin"),
        Index(
            "ix_case_event_recategorised",
            "case_id",
            postgresql_where=text("details ? 'from_category'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), doc="by the platform's clock")
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    office: Mapped[str | None] = mapped_column(String(48))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(Text)
    search: Mapped[str | None] = mapped_column(TSVECTOR)
    """The note's words (``geo.search``), for Thai full-text search of a case's updates."""


class Outbox(Base):
    """A message to an office, written with the change it reports; the worker delivers it."""

    __tablename__ = "case_outbox"
    __table_args__ = (Index("ix_case_outbox_due", "state", "next_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True, doc="the idempotency key receivers see")
    case_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(BigInteger)
    office: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Attachment(Base):
    """A file attached to a case with a progress note (kept by its SHA-256 in the home)."""

    __tablename__ = "case_attachment"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("problem_case.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
