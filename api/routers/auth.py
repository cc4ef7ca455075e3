"""Logging in: the OAuth2 password flow issues a short-lived signed token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.auth import login_token, requires
from api.deps import SessionDep, SettingsDep
from geo.access import PUBLIC
from geo.errors import UnauthorizedError
from layers.users import User, authenticate

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


@router.post("/token", response_model=Token, dependencies=[Depends(requires(PUBLIC))])
def token(
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    user = authenticate(session.connection(), form.username, form.password)
    if user is None:
        raise UnauthorizedError("wrong user name or password")
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
