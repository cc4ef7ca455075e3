"""Who is calling: short-lived signed login tokens (JWT) and long-lived API tokens, both sent
as ``Authorization: Bearer``; and the permission every route declares.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request

from api.deps import SessionDep, SettingsDep
from geo.access import PUBLIC
from geo.errors import ForbiddenError, NotFoundError, UnauthorizedError
from layers.access.users import TOKEN_PREFIX, User, user_for_token, user_named
from layers.store.keys import signing_key
from layers.store.settings import Settings

ALGORITHM = "HS256"


def login_token(settings: Settings, user: User) -> tuple[str, int]:
    """A signed token naming the user, and its lifetime in seconds."""
    seconds = settings.token_minutes * 60
    now = datetime.now(UTC)
    claims = {
        "sub": user.name,
        "role": user.role,
        "iat": now,
        "exp": now + timedelta(seconds=seconds),
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM), seconds


def caller(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """The authenticated user, or None for an anonymous request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("send the token as `Authorization: Bearer TOKEN`")
    conn = session.connection()
    if token.startswith(TOKEN_PREFIX):
        user = user_for_token(conn, token)
    else:
        try:
            claims = jwt.decode(
                token,
                signing_key(settings),
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError("the login token has expired: log in again") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError("the token is not valid") from exc
        user = user_named(conn, str(claims.get("sub", "")))
    if user is None:
        raise UnauthorizedError("the token is not valid (revoked, or the user is disabled)")
    return user


class Permission:
    """A route's declared permission; as a dependency it yields the caller (None if public).

    ``anonymous``: callers without a login are let through too (the route then answers them
    its public way); a logged-in caller still needs the permission.
    """

    def __init__(self, name: str, anonymous: bool = False) -> None:
        self.name = name
        self.anonymous = anonymous or name == PUBLIC

    def __call__(self, user: Annotated[User | None, Depends(caller)]) -> User | None:
        if user is None:
            if self.anonymous:
                return None
            raise UnauthorizedError("log in first: POST /auth/token, or send an API token")
        if not user.scope.allows(self.name):
            raise ForbiddenError(f"the role {user.role} may not use this ({self.name})")
        return user


def requires(name: str, anonymous: bool = False) -> Permission:
    return Permission(name, anonymous)


def in_scope(user: User | None, area: str) -> str:
    """The area to work on for this caller: inside their scope, '' meaning their own area.

    An area outside the scope answers as if it did not exist.
    """
    if user is None:
        return area
    if user.scope.covers_area(area):
        return area
    if not area:
        return user.scope.area
    raise NotFoundError(f"no area with code {area!r}")
