"""Areas: search by name or code, and each area's page (breadcrumbs, figures, map, the areas
within ranked, its cases), inside the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import in_scope, requires
from api.deps import PLAIN_TEXT, SessionDep
from api.web.render import language, page, pages_router, words
from api.web.words import names
from layers.access.users import User
from layers.analysis.stats import CHILD_LEVEL, area_figures, resolve_area, served_live
from layers.geography.areas import list_areas, parent_chain, search_areas
from layers.store.partitions import survey_rounds

router = pages_router("/app/areas")
Account = Annotated[User | None, Depends(requires("account"))]


@router.get("", response_class=HTMLResponse)
def areas(
    request: Request,
    session: SessionDep,
    user: Account,
    q: Annotated[str, Query(max_length=64, pattern=PLAIN_TEXT)] = "",
) -> HTMLResponse:
    assert user is not None
    found = search_areas(session, q.strip(), within=user.scope.area) if q.strip() else None
    return _area_page(request, session, user, user.scope.area, q=q, found=found)


@router.get("/{code}", response_class=HTMLResponse)
def area(
    request: Request,
    session: SessionDep,
    user: Account,
    code: Annotated[str, Path(pattern=r"^\d{2}(\d{2}(\d{2})?)?$")],
) -> HTMLResponse:
    assert user is not None
    return _area_page(request, session, user, in_scope(user, code))


def _area_page(
    request: Request,
    session: SessionDep,
    user: User,
    code: str,
    *,
    q: str = "",
    found: list[dict[str, object]] | None = None,
) -> HTMLResponse:
    conn = session.connection()
    here = resolve_area(conn, code)
    figures = None
    if user.scope.allows("analysis:read") and survey_rounds(conn) and served_live(user.scope, code):
        figures = area_figures(conn, area=code, scope=user.scope)
        figures["children"].sort(key=lambda r: -(r["problems_per_1000"] or 0))
    # Without figures, the areas within are still there to go down to.
    within = (
        []
        if figures
        else list_areas(
            session, level=CHILD_LEVEL[here.level], parent=code or None, limit=1000, offset=0
        ).items
    )
    # The breadcrumbs start at the caller's own area: nothing above it is theirs to open.
    chain = [
        a
        for a in reversed(parent_chain(session, code) if code else [])
        if str(a["code"]).startswith(user.scope.area)
    ]
    return page(
        request,
        "area.html",
        user,
        title=names(language(request)).area(here) if code else words(request)("thailand"),
        here=here,
        chain=chain,
        figures=figures,
        within=within,
        q=q,
        found=found,
    )
