"""Maps as HTML pages, one route per kind, inside the caller's scope.

The pages load Leaflet and its plugins from ``/static/vendor`` (the pinned npm copies), never a
CDN. Without a login only the choropleth and the hexagons answer, from suppressed figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.assets import VENDOR_URL
from api.auth import Permission, in_scope, requires
from api.deps import AreaQuery, RoundQuery, SessionDep, SettingsDep, audit
from api.security import html_page
from geo.access import MAP_PERMISSIONS
from geo.maps.assets import render
from geo.vocab import PUBLIC_MAP_KINDS, AdminLevel, Dimension, Lang, MapKind, Scheme
from layers.access.users import User
from layers.delivery import maps

router = APIRouter(prefix="/maps", tags=["maps"])
HTML_OK: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "the map"}
}


def map_query(
    area: AreaQuery = "34",
    level: Annotated[
        AdminLevel | None,
        Query(
            description="level of the areas drawn (choropleth, targeting); default the level "
            "below the area: a province's districts, a district's subdistricts, Thailand's "
            "provinces"
        ),
    ] = None,
    indicator: Annotated[
        str,
        Query(
            max_length=64,
            description="problems_per_1000, affected_per_1000, solved_pct, problems, households "
            "or category:CODE",
        ),
    ] = "problems_per_1000",
    scheme: Annotated[Scheme, Query()] = "quantiles",
    classes: Annotated[int, Query(ge=3, le=9)] = 5,
    round: RoundQuery = None,
    lang: Annotated[Lang, Query(description="labels in Thai or English")] = "th",
    dimension: Annotated[Dimension | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=48)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    raster: Annotated[str | None, Query(max_length=64, description="registered raster id")] = None,
    run: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="hotspot run")] = None,
    state: Annotated[str | None, Query(max_length=16, description="cases: a case state")] = None,
    escalated: Annotated[
        bool | None, Query(description="cases: outside the mandate or up the ladder")
    ] = None,
) -> maps.MapQuery:
    return maps.MapQuery.of(locals())


QueryDep = Annotated[maps.MapQuery, Depends(map_query)]


#: What each kind shows (the permission it needs: ``geo.access.MAP_PERMISSIONS``).
DESCRIPTIONS: dict[MapKind, str] = {
    "choropleth": (
        "Areas by a roll-up indicator, in classes (mapclassify) with a legend. Public without a "
        "login: small counts are hidden as in `/stats`."
    ),
    "hexbin": (
        "Problems on H3 hexagons (filter by dimension, category, status). Public without a "
        "login: hexagons of 5 km² at the finest, small counts hidden, no filters (403)."
    ),
    "heatmap": "A heatmap of problems, weighted at the centres of fine hexagons.",
    "hotspots": (
        "Gi* classes of a stored run (`run`, else the area's latest) with its parameters."
    ),
    "water": (
        "Water sources, waterways, flood and drought zones and a raster over hexagons of "
        "households without clean water."
    ),
    "targeting": "Areas by targeting score; each popup lists the components' points.",
    "households": (
        "Households with problems as clustered points, inside the scope; above "
        "`BAMRUNG_MAP_POINTS_MAX` hexagons instead. Not for pseudonymised roles (403); logged."
    ),
    "cases": (
        "Cases by state with the overdue ones ringed and the offices holding them (filter by "
        "dimension, category, state, escalated): clustered points for roles that may see "
        "households, counts per district for the others; logged."
    ),
}


def _endpoint(kind: MapKind, permission: Permission) -> Callable[..., HTMLResponse]:
    """The route of one kind; the permission is a default so that each route has its own."""

    def page(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        query: QueryDep,
        user: User | None = Depends(permission),  # noqa: B008
    ) -> HTMLResponse:
        scoped = replace(query, area=in_scope(user, query.area))
        made = maps.BUILDERS[kind](
            session.connection(), settings, scoped, user.scope if user else None
        )
        body = render(made.map, VENDOR_URL)
        if user is not None:
            fields = ["location", "household_id", "problems"]
            audit(request, session, user, made.households, fields)
        return html_page(body, settings)

    return page


for _kind, _description in DESCRIPTIONS.items():
    _permission = MAP_PERMISSIONS[_kind]
    router.add_api_route(
        f"/{_kind}",
        _endpoint(_kind, requires(_permission, anonymous=_kind in PUBLIC_MAP_KINDS)),
        methods=["GET"],
        name=f"map_{_kind}",
        summary=f"The {_kind} map (HTML)",
        description=_description,
        response_class=HTMLResponse,
        responses=HTML_OK,
    )
