"""Administration: users and their roles and scopes, API tokens (issue, revoke), who saw a
household (the PDPA access log) and the sign-in log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import requires
from api.deps import PLAIN_TEXT, SessionDep, audit
from api.web.render import page, pages_router, words
from geo.access import ROLES
from geo.errors import BamrungError
from layers.access import records, sessions, users
from layers.access.users import User

router = pages_router("/app/admin")
Admin = Annotated[User | None, Depends(requires("users:admin"))]
Name = Annotated[str, Path(max_length=128, pattern=PLAIN_TEXT)]
Field = Annotated[str, Form(max_length=200, pattern=PLAIN_TEXT)]


def _admin_page(
    request: Request,
    session: SessionDep,
    user: User | None,
    *,
    household: str = "",
    message: str | None = None,
    token: str | None = None,
    bad: bool = False,
    status: int = 200,
) -> HTMLResponse:
    conn = session.connection()
    return page(
        request,
        "admin.html",
        user,
        http_status=status,
        title=words(request)("admin"),
        users=users.list_users(conn),
        roles=ROLES,
        household=household,
        seen=records.who_saw(conn, household) if household else None,
        sign_ins=sessions.auth_events(conn, limit=50),
        message=message,
        token=token,
        bad=bad,
    )


@router.get("", response_class=HTMLResponse)
def admin(
    request: Request,
    session: SessionDep,
    user: Admin,
    household: Annotated[str, Query(max_length=64, pattern=PLAIN_TEXT)] = "",
) -> HTMLResponse:
    assert user is not None
    if household:
        # Who saw a household is about that household: the look is logged too.
        audit(request, session, user, [household], ["access_log"])
    return _admin_page(request, session, user, household=household)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    user: Admin,
    name: Annotated[str, Form(min_length=1, max_length=128, pattern=PLAIN_TEXT)],
    role: Annotated[str, Form(max_length=24)],
    password: Annotated[str, Form(max_length=200)],
    area: Field = "",
    categories: Field = "",
    household: Field = "",
    community: Field = "",
    office: Field = "",
) -> HTMLResponse:
    t = words(request)
    try:
        users.add_user(
            session.connection(),
            name,
            role,
            area=area or None,
            categories=[c.strip() for c in categories.split(",") if c.strip()] or None,
            household=household or None,
            community=community or None,
            office=office or None,
            password=password,
        )
    except BamrungError as exc:
        session.rollback()
        return _admin_page(request, session, user, message=str(exc), bad=True, status=422)
    session.commit()
    return _admin_page(request, session, user, message=t("user_added", name=name))


@router.post("/users/{name}/token", response_class=HTMLResponse)
def issue_token(request: Request, session: SessionDep, user: Admin, name: Name) -> HTMLResponse:
    token = users.issue_token(session.connection(), name, label="issued on the admin page")
    session.commit()
    return _admin_page(request, session, user, token=token)


@router.post("/users/{name}/revoke", response_class=HTMLResponse)
def revoke(request: Request, session: SessionDep, user: Admin, name: Name) -> HTMLResponse:
    conn = session.connection()
    tokens = users.revoke(conn, name)
    ended = sessions.end_sessions(conn, name)
    session.commit()
    text = words(request)("revoked_n", tokens=tokens, sessions=ended)
    return _admin_page(request, session, user, message=text)
