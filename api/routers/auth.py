"""Logging in: the OAuth2 password flow issues a short-lived signed token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.auth import login_token, requires, sign_in
from api.deps import SessionDep, SettingsDep
from geo.access import PUBLIC
from layers.access.users import User

router = APIRouter(prefix="/auth", tags=["auth"])


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
    "of those failures is out of the window. Every login, failed login and refusal is written "
    "to the sign-in audit log.",
)
def token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    user = sign_in(request, session, settings, form.username, form.password, "api")
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
