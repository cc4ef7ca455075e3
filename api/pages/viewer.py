"""The map viewer: pick the kind, area, level, indicator, filters, round and language; the map
(the app's own ``/maps`` page, framed) updates in place and the address is its permalink.
Visitors get the public kinds only."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from api.auth import requires
from api.deps import CodeQuery, RoundQuery, SessionDep
from api.web.render import language, page, pages_router, words
from geo.access import MAP_PERMISSIONS, PUBLIC
from geo.cases.workflow import STATES
from geo.errors import ForbiddenError, UnauthorizedError
from geo.vocab import DIMENSIONS, MAP_KINDS, PUBLIC_MAP_KINDS, STATUSES, AdminLevel, Dimension
from layers.access.users import User
from layers.store.models import AdminUnit
from layers.store.partitions import survey_rounds
from layers.survey.taxonomy import categories

router = pages_router("/app")
Visitor = Annotated[User | None, Depends(requires(PUBLIC))]
INDICATORS = ("problems_per_1000", "affected_per_1000", "solved_pct", "problems", "households")


def kinds_for(user: User | None) -> list[str]:
    """The map kinds this caller may open."""
    if user is None:
        return list(PUBLIC_MAP_KINDS)
    return [k for k in MAP_KINDS if user.scope.allows(MAP_PERMISSIONS[k])]


@router.get("/map", response_class=HTMLResponse)
def viewer(
    request: Request,
    session: SessionDep,
    user: Visitor,
    kind: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z]+$")] = None,
    area: Annotated[
        str | None, Query(pattern=r"^(\d{2}|\d{4}|\d{6})?$", description="'': Thailand")
    ] = None,
    level: AdminLevel | None = None,
    indicator: Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9_:]+$")] = "problems_per_1000",
    dimension: Dimension | None = None,
    category: CodeQuery = None,
    status: CodeQuery = None,
    state: CodeQuery = None,
    round: RoundQuery = None,
    lang: Annotated[str | None, Query(pattern=r"^(th|en)$")] = None,
) -> HTMLResponse:
    allowed = kinds_for(user)
    if kind is None or kind not in MAP_KINDS:
        kind = allowed[0]  # every role may open one kind at least
    if kind not in allowed:
        if user is None:
            raise UnauthorizedError("log in to open this kind of map")
        raise ForbiddenError(f"the role {user.role} may not open {kind} maps")
    if area is None:  # the caller's own area; Ubon, the demonstration's province, for visitors
        area = user.scope.area if user and user.scope.area else "34"
    chosen: dict[str, Any] = {
        "area": area,
        "level": level,
        "indicator": indicator if kind in ("choropleth",) else None,
        "dimension": dimension,
        "category": category or None,
        "status": status or None,
        "state": state or None if kind == "cases" else None,
        "round": round,
        "lang": lang or language(request),
    }
    # The area is kept when empty: '' is Thailand, not the maps' default.
    given = {k: v for k, v in chosen.items() if k == "area" or v not in (None, "")}
    t = words(request)
    return page(
        request,
        "viewer.html",
        user,
        title=t("map"),
        kind=kind,
        src=f"/maps/{kind}?{urlencode(given)}",
        permalink=f"/app/map?{urlencode({'kind': kind, **given})}",
        kinds=allowed,
        chosen=chosen,
        indicators=INDICATORS,
        dimensions=DIMENSIONS,
        statuses=STATUSES,
        states=STATES,
        categories=categories(session.connection()),
        rounds=survey_rounds(session.connection()),
        public=user is None,
    )


#: The zoom a planner's map opens at, by the level of their own area.
OPENING_ZOOM = {0: 5, 2: 8, 4: 10, 6: 12}


@router.get("/atlas", response_class=HTMLResponse)
def atlas(
    request: Request,
    session: SessionDep,
    user: Visitor,
    tileset: Annotated[str, Query(pattern=r"^(households|cases)$")] = "households",
) -> HTMLResponse:
    """The national map of the app's vector tiles, opening on the caller's own area."""
    area = user.scope.area if user else ""
    centre = [100.5, 13.0]
    if area:
        point = session.execute(
            select(
                func.ST_X(func.ST_Centroid(AdminUnit.geom)),
                func.ST_Y(func.ST_Centroid(AdminUnit.geom)),
            ).where(AdminUnit.code == area)
        ).one_or_none()
        if point is not None and point[0] is not None:
            centre = [round(point[0], 5), round(point[1], 5)]
    return page(
        request,
        "atlas.html",
        user,
        title=words(request)("atlas_title"),
        tilesets=["households", "cases"] if user else ["households"],
        tileset=tileset if user else "households",
        center=centre,
        zoom=OPENING_ZOOM.get(len(area), 5),
    )
