"""Who is calling: short-lived signed login tokens (JWT) and long-lived API tokens, both sent
as ``Authorization: Bearer`` (an API token also as the password of HTTP Basic), or the web
session's cookie; and the permission every route declares. Each grants exactly what the others
grant the same user.

A request that changes state under a session cookie must carry the session's CSRF token in
``X-CSRF-Token`` (the pages' HTMX sends it with every request) and, when the browser names
its ``Origin``, come from this site.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from api.deps import SessionDep, SettingsDep
from api.security import CONTROL, SESSION_COOKIE
from geo.access import PUBLIC
from geo.citizens import normalise_code
from geo.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooManyAttemptsError,
    UnauthorizedError,
)
from layers.access import sessions
from layers.access.sessions import csrf_matches, session_user
from layers.access.users import (
    TOKEN_PREFIX,
    Throttle,
    User,
    authenticate,
    login_failed,
    login_succeeded,
    login_wait,
    user_for_token,
    user_named,
)
from layers.cases.events import clock
from layers.citizens import enrolment
from layers.store.keys import signing_key
from layers.store.settings import Settings

log = logging.getLogger(__name__)
ALGORITHM = "HS256"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def login_throttle(settings: Settings) -> Throttle:
    """The settings' limits of failed logins (enrolment codes are counted by them too)."""
    return Throttle(
        settings.login_failures_per_user,
        settings.login_failures_per_address,
        settings.login_window_s,
    )


def sign_in(
    request: Request,
    session: SessionDep,
    settings: Settings,
    name: str,
    password: str,
    through: str,
) -> User:
    """The user these credentials are, checked against the throttle; every attempt goes to
    the sign-in audit log (``through``: ``web`` or ``api``). Commits."""
    if not name or len(name) > 128 or CONTROL.search(name):
        raise InvalidInputError("username: 1 to 128 characters, without control characters")
    address = client_address(request)
    throttle = login_throttle(settings)
    conn = session.connection()
    wait = login_wait(conn, throttle, name, address)
    if wait:
        sessions.record(conn, "login_throttled", name, address, through)
        session.commit()
        log.warning(
            "login of %r from %s refused: too many failures (%d s to wait)", name, address, wait
        )
        raise TooManyAttemptsError(
            f"too many failed logins: try again in {wait} s", retry_after=wait
        )
    user = authenticate(conn, name, password)
    if user is None:
        login_failed(conn, throttle, name, address)
        sessions.record(conn, "login_failed", name, address, through)
        session.commit()
        log.warning("failed login of %r from %s", name, address)
        raise UnauthorizedError("wrong user name or password")
    login_succeeded(conn, name)
    sessions.record(conn, "login", name, address, through)
    session.commit()
    return user


def enrol(
    request: Request,
    session: SessionDep,
    settings: Settings,
    code: str,
    name: str,
    password: str,
    through: str,
) -> User:
    """The citizen account a valid enrolment code makes, with the name and password its
    household chose; wrong codes count against the address like failed logins, and every
    attempt goes to the sign-in audit log. Commits."""
    code = normalise_code(code)  # a code that cannot be one is refused before it counts
    address = client_address(request)
    throttle = login_throttle(settings)
    conn = session.connection()
    # Failed codes count against the address (the name is the citizen's choice, not a target).
    key = f"enrol:{address}"
    wait = login_wait(conn, throttle, key, address)
    if wait:
        sessions.record(conn, "enrol_throttled", name, address, through)
        session.commit()
        raise TooManyAttemptsError(f"too many wrong codes: try again in {wait} s", retry_after=wait)
    user = enrolment.redeem(conn, code, name, password, clock(settings))
    if user is None:
        login_failed(conn, throttle, key, address)
        sessions.record(conn, "enrol_failed", name, address, through)
        session.commit()
        log.warning("a wrong enrolment code from %s", address)
        raise UnauthorizedError(
            "the code is not valid: it may be mistyped, used, replaced by a newer one or "
            "expired — ask your district team for a new slip"
        )
    sessions.record(conn, "enrolled", user.name, address, through)
    session.commit()
    return user


def web_session(
    request: Request, session: SessionDep, settings: Settings, user: User, target: str
) -> RedirectResponse:
    """Go to ``target`` signed in: a new server-side session for ``user``, in its cookie."""
    token = sessions.open_session(
        session.connection(), user.name, client_address(request), settings.session_minutes
    )
    session.commit()
    signed_in = RedirectResponse(target, status_code=303)
    signed_in.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies or request.url.scheme == "https",
        path="/",
    )
    return signed_in


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def caller(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """The authenticated user, or None for an anonymous request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return _session_caller(request, session, settings)
    if scheme.lower() == "basic" and token:
        return _basic_caller(session, token)
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError(
            "send the token as `Authorization: Bearer TOKEN`, or HTTP Basic with a user name "
            "and one of its API tokens as the password"
        )
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


def _basic_caller(session: SessionDep, encoded: str) -> User:
    """The user of HTTP Basic credentials: a user name and one of its API tokens.

    For GIS clients that can send Basic but no bearer header (QGIS 3.22's connections). A
    password is not taken here: guesses would bypass the login throttle.
    """
    try:
        name, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnauthorizedError("HTTP Basic: the credentials are not base64 of NAME:TOKEN") from exc
    user = user_for_token(session.connection(), secret) if secret.startswith(TOKEN_PREFIX) else None
    if user is None or user.name != name:
        raise UnauthorizedError(
            "HTTP Basic takes a user name and one of its API tokens (not revoked) as the password"
        )
    return user


def _session_caller(request: Request, session: SessionDep, settings: Settings) -> User | None:
    """The user of the session cookie (None: no cookie, or a session that has ended)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = session_user(session.connection(), cookie)
    if found is None:
        request.state.session_ended = True
        return None  # the public pages still answer; the others ask to log in again
    user, lang = found
    if request.method not in SAFE_METHODS:
        same_site(request)
        given = request.headers.get(CSRF_HEADER, "")
        if not csrf_matches(signing_key(settings), cookie, given):
            raise ForbiddenError(
                "the form is out of date or came from another site (CSRF check): reload the "
                "page and try again"
            )
    request.state.lang = lang
    request.state.session = cookie
    return user


def same_site(request: Request) -> None:
    """Refuse a browser's request sent from another site's page (by its ``Origin``)."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ForbiddenError("the request came from another site's page")


class Permission:
    """A route's declared permission; as a dependency it yields the caller (None if public).

    ``anonymous``: callers without a login are let through too (the route then answers them
    its public way); a logged-in caller still needs the permission.
    """

    def __init__(self, name: str, anonymous: bool = False) -> None:
        self.name = name
        self.anonymous = anonymous or name == PUBLIC

    def __call__(
        self, request: Request, user: Annotated[User | None, Depends(caller)]
    ) -> User | None:
        request.state.user = user  # for the pages' own error pages
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
