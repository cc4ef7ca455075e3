"""Signing in and out of the web application, and the language of the pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import client_address, requires, same_site, sign_in, web_session
from api.deps import SessionDep, SettingsDep
from api.errors import STATUS
from api.security import CONTROL, SESSION_COOKIE
from api.web.render import LANG_COOKIE, page, pages_router, redirect, words
from geo.access import PUBLIC
from geo.errors import InvalidInputError, TooManyAttemptsError, UnauthorizedError
from layers.access import sessions
from layers.access.users import User

router = pages_router()
Visitor = Annotated[User | None, Depends(requires(PUBLIC))]
Next = Annotated[str, Form(max_length=500)]


def landing(user: User) -> str:
    """Where a user lands after signing in: a reviewer's first page is the escalated cases, a
    citizen's their reports."""
    return {"reviewer": "/app/review", "citizen": "/app/reports"}.get(user.role, "/app")


def _next(value: str, fallback: str) -> str:
    # Only a path of this site: never a redirect to another one ("//host", "/\\host").
    parts = urlsplit(value)
    if (
        value.startswith("/")
        and not parts.scheme
        and not parts.netloc
        and "\\" not in value
        and not value.startswith("//")
        and not CONTROL.search(value)
    ):
        return value
    return fallback


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: Visitor, next: str = "") -> HTMLResponse:
    ended = getattr(request.state, "session_ended", False)
    t = words(request)
    return page(
        request,
        "login.html",
        user,
        title=t("login"),
        message=t("session_ended") if ended else None,
        bad=False,
        next_url=_next(next, ""),
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _visitor: Visitor,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=200)],
    next: Next = "",
) -> Response:
    same_site(request)
    t = words(request)
    try:
        user = sign_in(request, session, settings, username, password, "web")
    except (UnauthorizedError, TooManyAttemptsError, InvalidInputError) as exc:
        status = STATUS[type(exc)]
        message = {401: t("login_failed"), 429: t("login_throttled")}.get(status, str(exc))
        response = page(
            request,
            "login.html",
            None,
            http_status=status,
            title=t("login"),
            message=message,
            bad=True,
            next_url=_next(next, ""),
        )
        if isinstance(exc, TooManyAttemptsError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return web_session(request, session, settings, user, _next(next, landing(user)))


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    user: Annotated[User | None, Depends(requires("account"))],
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    name = sessions.end_session(session.connection(), cookie)
    if name:
        sessions.record(session.connection(), "logout", name, client_address(request), "web")
    session.commit()
    response = redirect(request, "/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def switch_language(
    request: Request,
    session: SessionDep,
    user: Visitor,
    lang: Annotated[str, Form(pattern=r"^(th|en)$")],
    next: Next = "/",
) -> Response:
    response = redirect(request, _next(next, "/"))
    if user is None:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    else:
        sessions.set_language(session.connection(), user.name, lang)
        session.commit()
    return response
