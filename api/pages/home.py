"""The public start page (what Bamrung is, the gallery, the national figures) and the
gallery's maps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse

from api.assets import gallery
from api.auth import requires
from api.deps import SessionDep, SettingsDep
from api.security import html_page
from api.web.render import page, pages_router, words
from geo.access import PUBLIC
from geo.errors import NotFoundError
from layers.access.users import User
from layers.analysis.public import public_rollup
from layers.store.partitions import survey_rounds

router = pages_router()
Visitor = Annotated[User | None, Depends(requires(PUBLIC))]
#: The national figures: each is shown only when no province's count of it is hidden.
TOTALS = ("households", "households_with_problems", "problems", "solved")


@router.get("/", response_class=HTMLResponse, summary="The start page")
def home(
    request: Request, session: SessionDep, settings: SettingsDep, user: Visitor
) -> HTMLResponse:
    conn = session.connection()
    provinces = public_rollup(conn, area="", level="province") if survey_rounds(conn) else []
    totals: dict[str, Any] = {
        key: None if any(p[key] is None for p in provinces) else sum(p[key] for p in provinces)
        for key in TOTALS
    }
    surveyed = [p for p in provinces if p["households"]]
    return page(
        request,
        "home.html",
        user,
        title=words(request)("home_title"),
        maps=gallery(settings),
        totals=totals,
        provinces=surveyed,
    )


@router.get("/gallery/{name}", response_class=HTMLResponse, summary="A map of the gallery")
def gallery_map(
    settings: SettingsDep,
    _visitor: Visitor,
    name: Annotated[str, Path(pattern=r"^[\w.-]+\.html$", max_length=120)],
) -> HTMLResponse:
    if name not in gallery(settings):
        raise NotFoundError(f"no map {name!r} in the gallery")
    body = (settings.home / "maps" / name).read_text(encoding="utf-8")
    return html_page(body, settings)
