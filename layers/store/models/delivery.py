"""Delivery: exports too large for one answer, run on the job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from layers.store.models.base import Base


class ExportJob(Base):
    """An export asked for, run by the worker: its request, its progress and its file.

    Only the user who asked sees it; the households the file holds are kept so that each
    download is access-logged with them.
    """

    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_user", "user_name", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_name: Mapped[str] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(8), server_default="queued")
    """``queued``, ``running``, ``done`` or ``failed``."""
    progress: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    features: Mapped[int | None] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    households: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
