"""Logging in: the OAuth2 password flow issues a short-lived signed token."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.auth import login_token, requires
from api.deps import SessionDep, SettingsDep
from api.security import CONTROL
from geo.access import PUBLIC
from geo.errors import InvalidInputError, TooManyAttemptsError, UnauthorizedError
from layers.access.users import (
    Throttle,
    User,
    authenticate,
    login_failed,
    login_succeeded,
    login_wait,
)

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger(__name__)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    name: str
    role: str
    area: str
    categories: list[str] | None
    pseudonymised: bool


@router.post(
    "/token",
    response_model=Token,
    dependencies=[Depends(requires(PUBLIC))],
    description="The OAuth2 password flow. Failed logins are throttled: after "
    "`BAMRUNG_LOGIN_FAILURES_PER_USER` (5) failures for one user name, or "
    "`BAMRUNG_LOGIN_FAILURES_PER_ADDRESS` (20) from one client address, within "
    "`BAMRUNG_LOGIN_WINDOW_S` (900 s), logins answer 429 with `Retry-After` until the oldest "
    "of those failures is out of the window.",
)
def token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    name = form.username
    if not name or len(name) > 128 or CONTROL.search(name):
        raise InvalidInputError("username: 1 to 128 characters, without control characters")
    address = request.client.host if request.client else "unknown"
    throttle = Throttle(
        settings.login_failures_per_user,
        settings.login_failures_per_address,
        settings.login_window_s,
    )
    conn = session.connection()
    wait = login_wait(conn, throttle, name, address)
    if wait:
        log.warning(
            "login of %r from %s refused: too many failures (%d s to wait)", name, address, wait
        )
        raise TooManyAttemptsError(
            f"too many failed logins: try again in {wait} s", retry_after=wait
        )
    user = authenticate(conn, name, form.password)
    if user is None:
        login_failed(conn, throttle, name, address)
        session.commit()
        log.warning("failed login of %r from %s", name, address)
        raise UnauthorizedError("wrong user name or password")
    login_succeeded(conn, name)
    session.commit()
    signed, seconds = login_token(settings, user)
    return Token(access_token=signed, expires_in=seconds)


@router.get("/me", response_model=Me)
def me(user: Annotated[User | None, Depends(requires("account"))]) -> Me:
    assert user is not None
    scope = user.scope
    return Me(
        name=user.name,
        role=user.role,
        area=scope.area,
        categories=sorted(scope.categories) if scope.categories else None,
        pseudonymised=scope.pseudonymised,
    )
