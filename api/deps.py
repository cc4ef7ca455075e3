"""Shared by the routers: settings, one database session per request, common parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import geopandas as gpd
from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.security import CONTROL_CHARACTERS
from geo.errors import InvalidInputError, TooLargeError
from layers.access import records
from layers.access.users import User
from layers.store.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
#: Text without control characters.
PLAIN_TEXT = f"^[^{CONTROL_CHARACTERS}]*$"
SettingsDep = Annotated[Settings, Depends(get_settings)]


AreaQuery = Annotated[
    str,
    Query(
        pattern=r"^(\d{2}|\d{4}|\d{6})?$",
        description="province, district or subdistrict code; empty = Thailand",
    ),
]
RoundQuery = Annotated[
    int | None, Query(ge=2500, le=2700, description="survey round (BE year); default the latest")
]


class GeoJSONResponse(Response):
    media_type = "application/geo+json"


#: How the GeoJSON routes document their answer.
GEOJSON_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a GeoJSON FeatureCollection (EPSG:4326)",
        "content": {
            "application/geo+json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "features"],
                    "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                        "features": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}


def geojson(frame: gpd.GeoDataFrame, *, limit: int, **members: Any) -> Response:
    """A GeoDataFrame as a GeoJSON FeatureCollection (EPSG:4326), with extra top-level members.

    More than ``limit`` features answer 413 rather than a response nobody can open.
    """
    if len(frame) > limit:
        raise TooLargeError(
            f"more than {limit:,} features, the limit of one response "
            "(BAMRUNG_EXPORT_MAX_FEATURES): ask for a smaller area or bbox"
        )
    collection: dict[str, Any] = (
        frame.to_geo_dict(na="null", drop_id=True)
        if len(frame)
        else {"type": "FeatureCollection", "features": []}
    )
    collection.update(members)
    body = json.dumps(collection, ensure_ascii=False, default=str)
    return GeoJSONResponse(body)


PAGE_LIMIT = 1_000


class Page(BaseModel):
    limit: int
    offset: int


def page(
    settings: SettingsDep,
    limit: Annotated[
        int,
        Query(ge=1, le=PAGE_LIMIT, description="page size (BAMRUNG_PAGE_SIZE_MAX may lower it)"),
    ] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Page:
    if limit > settings.page_size_max:
        raise InvalidInputError(f"limit must be at most {settings.page_size_max}")
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page)]
#: A code of the vocabulary (a category, a status, a state, an office) as a query parameter.
CodeQuery = Annotated[str | None, Query(max_length=48, pattern=r"^[a-z0-9_-]*$")]
#: Where a page of a list starts (the web pages' lists have a fixed length).
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="rows to skip")]


def audit(
    request: Request,
    session: SessionDep,
    user: User,
    households: list[str],
    fields: list[str],
) -> None:
    """One access-log row for this response, committed before the body is sent; none when it
    holds no household (a community issue's case has none)."""
    households = [h for h in households if h]
    if not households:
        return
    records.log_access(
        session.connection(),
        user=user.name,
        role=user.role,
        # The API's header, or the pages' parameter (a page asks for it before showing records).
        purpose=(
            request.headers.get("x-purpose") or request.query_params.get("purpose") or "not stated"
        )[:200],
        request_id=request.state.request_id,
        client_request_id=request.state.client_request_id,
        path=request.url.path,
        households=households,
        fields=fields,
    )
    session.commit()


#: A row id: a positive PostgreSQL integer.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
