"""Users and their API tokens: passwords hashed with Argon2, tokens kept only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, text, update

from geo.access import Scope, scope_of
from geo.errors import InvalidInputError, NotFoundError
from layers.store.models import ApiToken, AppUser, LoginFailure, Office, Route

TOKEN_PREFIX = "bmr_"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    """A signed-in user: name, role and the scope they see."""

    name: str
    role: str
    scope: Scope


def user_from_row(row: Any) -> User:
    """The user of a row of ``app_user``."""
    scope = scope_of(
        row.role,
        row.area,
        categories=row.categories,
        household=row.household_id,
        community=row.community,
        office=row.office,
    )
    return User(row.name, row.role, scope)


def add_user(
    conn: Connection,
    name: str,
    role: str,
    *,
    area: str | None = None,
    categories: list[str] | None = None,
    household: str | None = None,
    community: str | None = None,
    office: str | None = None,
    password: str | None = None,
) -> User:
    """Create a user; the role's scope is checked first.

    An agency officer given an office answers that office's cases; its area and categories, when
    not given, are the office's (its province or district, and the categories routed to it).
    """
    if office is not None:
        if role != "agency_officer":
            raise InvalidInputError("office: only an agency_officer has an office", field="office")
        areas = conn.scalar(select(Office.areas).where(Office.code == office))
        if areas is None:
            raise InvalidInputError(f"office: {office!r} is not an office", field="office")
        if area is None and len(areas) == 1 and areas[0]:
            area = areas[0]
        if not categories:
            routed = select(Route.category).where(Route.office == office).distinct()
            categories = sorted(conn.scalars(routed)) or None
    scope = scope_of(
        role,
        area,
        categories=categories,
        household=household,
        community=community,
        office=office,
    )
    if conn.scalar(select(AppUser.id).where(AppUser.name == name)) is not None:
        raise InvalidInputError(f"a user named {name!r} exists already")
    if password is not None and len(password) < 10:
        raise InvalidInputError("password: at least 10 characters")
    conn.execute(
        insert(AppUser).values(
            name=name,
            role=role,
            area=scope.area,
            categories=sorted(scope.categories) if scope.categories else None,
            household_id=scope.household,
            community=scope.community,
            office=scope.office,
            password_hash=_hasher.hash(password) if password else None,
        )
    )
    return User(name, role, scope)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user, by name: role, scope, whether disabled, and how many live API tokens."""
    rows = conn.execute(select(AppUser.__table__).order_by(AppUser.name))
    return [
        {
            "name": r.name,
            "role": r.role,
            "area": r.area,
            "categories": r.categories,
            "household_id": r.household_id,
            "community": r.community,
            "office": r.office,
            "disabled": r.disabled,
            "tokens": conn.scalar(
                select(func.count()).where(ApiToken.user_id == r.id, ApiToken.revoked_at.is_(None))
            ),
        }
        for r in rows
    ]


def authenticate(conn: Connection, name: str, password: str) -> User | None:
    """The user whose name and password these are, or None."""
    row = conn.execute(
        select(AppUser.__table__).where(AppUser.name == name, AppUser.disabled.is_(False))
    ).one_or_none()
    if row is None or row.password_hash is None:
        _hasher.hash(password)  # the same work whether or not the user exists
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user_from_row(row)


def user_named(conn: Connection, name: str) -> User | None:
    """The enabled user called ``name``, or None."""
    row = conn.execute(
        select(AppUser.__table__).where(AppUser.name == name, AppUser.disabled.is_(False))
    ).one_or_none()
    return None if row is None else user_from_row(row)


def issue_token(conn: Connection, name: str, label: str | None = None) -> str:
    """A new API token for ``name``; only its hash is stored, so it is shown once."""
    user_id = conn.scalar(select(AppUser.id).where(AppUser.name == name))
    if user_id is None:
        raise NotFoundError(f"no user named {name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(ApiToken).values(user_id=user_id, token_hash=_digest(token), label=label))
    return token


def user_for_token(conn: Connection, token: str) -> User | None:
    """The enabled user an unrevoked API token ``token`` belongs to, or None."""
    row = conn.execute(
        select(AppUser.__table__)
        .join(ApiToken, ApiToken.user_id == AppUser.id)
        .where(
            ApiToken.token_hash == _digest(token),
            ApiToken.revoked_at.is_(None),
            AppUser.disabled.is_(False),
        )
    ).one_or_none()
    return None if row is None else user_from_row(row)


def revoke(conn: Connection, name: str) -> int:
    """Revoke every API token of ``name``; returns how many."""
    user_id = conn.scalar(select(AppUser.id).where(AppUser.name == name))
    if user_id is None:
        raise NotFoundError(f"no user named {name!r}")
    result = conn.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Throttle:
    """How many failed logins are let through in a window, per user name and per address."""

    per_user: int
    per_address: int
    window_s: int


def login_wait(conn: Connection, throttle: Throttle, name: str, address: str) -> int:
    """Seconds before another login may be tried for ``name`` from ``address`` (0: now).

    A name (known or not, so the answer says nothing of who exists) or an address with as many
    failures in the window as its limit waits until the oldest of those leaves the window.
    The name and the address stay locked until the transaction ends: logins of one name or from
    one address are checked one after the other, so a burst of guesses in parallel is counted
    like guesses in a row.
    """
    for key in sorted({f"login:{name}", f"address:{address}"}):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
    waits = [0]
    since = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, throttle.window_s)
    for column, value, limit in (
        (LoginFailure.user_name, name, throttle.per_user),
        (LoginFailure.address, address, throttle.per_address),
    ):
        nth = conn.scalar(
            select(func.ceil(func.extract("epoch", LoginFailure.at - since)))
            .where(column == value, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if nth is not None:
            waits.append(max(int(nth), 1))
    return max(waits)


def login_failed(conn: Connection, throttle: Throttle, name: str, address: str) -> None:
    """Keep a failed login (and forget those older than the window)."""
    since = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, throttle.window_s)
    conn.execute(delete(LoginFailure).where(LoginFailure.at <= since))
    conn.execute(insert(LoginFailure).values(user_name=name, address=address))


def login_succeeded(conn: Connection, name: str) -> None:
    """The user's own failures are forgotten (the address's are not)."""
    conn.execute(delete(LoginFailure).where(LoginFailure.user_name == name))
