"""Web sessions, the audit log of sign-ins, and each user's language.

A session is the login page's cookie, kept server-side so that logging out, expiry and a
disabled user end it on the next request. The cookie holds a random token, the database only
its SHA-256. The CSRF token of a session is an HMAC of its token (the synchronizer-token
pattern without a second secret to store).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import Connection, func, insert, select, update

from geo.errors import InvalidInputError, NotFoundError
from layers.access.users import User, user_from_row
from layers.store.models import AppUser, AuthEvent, WebSession

LANGUAGES = ("th", "en")
#: What the audit log records.
EVENTS = (
    "login",
    "login_failed",
    "login_throttled",
    "logout",
    "code_issued",
    "enrolled",
    "enrol_failed",
    "enrol_throttled",
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, name: str, address: str, minutes: int) -> str:
    """A new session of the user ``name``, lasting ``minutes``; returns the cookie's token."""
    user_id = conn.scalar(select(AppUser.id).where(AppUser.name == name))
    if user_id is None:
        raise NotFoundError(f"no user named {name!r}")
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(WebSession).values(
            token_hash=_digest(token),
            user_id=user_id,
            expires_at=func.now() + timedelta(minutes=minutes),
            address=address,
        )
    )
    return token


def session_user(conn: Connection, token: str) -> tuple[User, str] | None:
    """The enabled user of a live session, with their language.

    None when the session has ended, expired, or never was.
    """
    row = conn.execute(
        select(AppUser.__table__)
        .join(WebSession, WebSession.user_id == AppUser.id)
        .where(
            WebSession.token_hash == _digest(token),
            WebSession.ended_at.is_(None),
            WebSession.expires_at > func.now(),
            AppUser.disabled.is_(False),
        )
    ).one_or_none()
    return None if row is None else (user_from_row(row), row.lang)


def end_session(conn: Connection, token: str) -> str | None:
    """End the session (logging out); returns its user's name, or None if it was not live."""
    name: str | None = conn.scalar(
        update(WebSession)
        .where(WebSession.token_hash == _digest(token), WebSession.ended_at.is_(None))
        .values(ended_at=func.now())
        .returning(select(AppUser.name).where(AppUser.id == WebSession.user_id).scalar_subquery())
    )
    return name


def end_sessions(conn: Connection, name: str) -> int:
    """End every live session of ``name`` (with their API tokens revoked); returns how many."""
    user_id = select(AppUser.id).where(AppUser.name == name).scalar_subquery()
    return conn.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=func.now())
    ).rowcount


def csrf_token(key: str, token: str) -> str:
    """The CSRF token of the session whose cookie is ``token``."""
    digest = hmac.new(key.encode(), b"csrf:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_matches(key: str, token: str, given: str) -> bool:
    """Whether ``given`` is the CSRF token of the session ``token`` (in constant time)."""
    return hmac.compare_digest(csrf_token(key, token).encode(), given.encode())


def record(conn: Connection, event: str, name: str, address: str, through: str) -> None:
    """One row of the sign-in audit log."""
    assert event in EVENTS
    conn.execute(
        insert(AuthEvent).values(
            event=event, user_name=name[:128], address=address, through=through
        )
    )


def auth_events(
    conn: Connection, *, name: str | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """The latest rows of the sign-in audit log (of one user name, if given)."""
    query = select(AuthEvent.__table__).order_by(AuthEvent.at.desc(), AuthEvent.id.desc())
    if name:
        query = query.where(AuthEvent.user_name == name)
    return [dict(r._mapping) for r in conn.execute(query.limit(limit))]


def set_language(conn: Connection, name: str, lang: str) -> None:
    """Keep the language of the user's pages."""
    if lang not in LANGUAGES:
        raise InvalidInputError(f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    conn.execute(update(AppUser).where(AppUser.name == name).values(lang=lang))
