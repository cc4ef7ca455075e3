"""The public progress pages of municipal communities: what each community's planning meetings
raised, where each issue stands, and the plan item it was adopted into (no personal data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import requires
from api.deps import AreaQuery, SessionDep
from api.web.render import language, page, pages_router, words
from geo.access import PUBLIC
from geo.communities import ISSUE_STATES
from layers.access.users import User
from layers.citizens import communities
from layers.survey.taxonomy import categories

router = pages_router("/app/communities")
Visitor = Annotated[User | None, Depends(requires(PUBLIC))]


@router.get("", response_class=HTMLResponse)
def communities_page(
    request: Request, session: SessionDep, user: Visitor, area: AreaQuery = ""
) -> HTMLResponse:
    rows = communities.listed(session.connection(), area)
    return page(request, "communities.html", user, title=words(request)("communities"), rows=rows)


@router.get("/{code}", response_class=HTMLResponse)
def community_page(
    request: Request,
    session: SessionDep,
    user: Visitor,
    code: Annotated[str, Path(max_length=24, pattern=r"^[\w-]+$")],
    year: Annotated[int | None, Query(ge=2400, le=2700)] = None,
) -> HTMLResponse:
    conn = session.connection()
    found = communities.progress(conn, code, year)
    lang = language(request)
    return page(
        request,
        "community.html",
        user,
        title=found["name_en"] if lang == "en" and found["name_en"] else found["name_th"],
        community=found,
        states=ISSUE_STATES,
        categories=categories(conn),
    )
