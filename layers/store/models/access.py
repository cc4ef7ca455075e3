"""Users, API tokens, web sessions, the access log, failed logins and the sign-in audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from layers.store.models.base import Base


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
    office: Mapped[str | None] = mapped_column(String(48))
    """An agency officer's office: the cases it answers for."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    lang: Mapped[str] = mapped_column(String(2), default="th", server_default="th")
    """The language of the user's pages: ``th`` or ``en``."""
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


class WebSession(Base):
    """A signed-in browser; the cookie's token is kept only as its SHA-256.

    It ends at ``expires_at`` or when the user logs out (``ended_at``), checked per request.
    """

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    address: Mapped[str] = mapped_column(Text)


class AuthEvent(Base):
    """One sign-in, failed or refused sign-in, or sign-out: the audit log of logins."""

    __tablename__ = "auth_event"
    __table_args__ = (Index("ix_auth_event_user", "user_name", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    event: Mapped[str] = mapped_column(String(24))
    user_name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    through: Mapped[str] = mapped_column(String(8))
    """``web`` (the login page) or ``api`` (``POST /auth/token``)."""
