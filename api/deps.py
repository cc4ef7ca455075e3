"""Shared by the routers: settings, one database session per request, common parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.security import CONTROL_CHARACTERS
from geo.errors import TooLargeError
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
AdminLevel = Literal["province", "district", "subdistrict"]
Dimension = Literal["health", "living_conditions", "education", "income", "public_services"]


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
    collection = (
        json.loads(frame.to_json(na="null", drop_id=True))
        if len(frame)
        else {
            "type": "FeatureCollection",
            "features": [],
        }
    )
    collection.update(members)
    body = json.dumps(collection, ensure_ascii=False, default=str)
    return GeoJSONResponse(body)


#: A row id: a positive PostgreSQL integer.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
