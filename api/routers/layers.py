"""Geo-social layers and registered rasters: what is loaded, and the features of a layer."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import requires
from api.deps import GEOJSON_OK, GeoJSONResponse, SessionDep, SettingsDep, geojson
from geo.errors import InvalidInputError, TooLargeError
from layers import geosocial

router = APIRouter(tags=["layers"], dependencies=[Depends(requires("analysis:read"))])


@router.get("/layers", summary="Imported vector layers")
def list_layers(session: SessionDep) -> list[dict[str, Any]]:
    return geosocial.list_layers(session.connection())


@router.get(
    "/layers/{kind}/features",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Features of every layer of a kind (GeoJSON)",
)
def features(
    session: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Path(description="water_sources, waterways, flood_zones, ...")],
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees")] = None,
) -> Response:
    box = _bbox(bbox)
    if box is not None:
        size = _km2(box)
        if size > settings.bbox_max_km2:
            raise TooLargeError(
                f"the bbox covers {size:,.0f} km², more than the limit of "
                f"{settings.bbox_max_km2:,.0f} km² (BAMRUNG_BBOX_MAX_KM2)"
            )
    limit = settings.export_max_features
    frame = geosocial.features_frame(session.connection(), kind, box, limit=limit + 1)
    return geojson(frame, limit=limit, kind=kind)


@router.get("/rasters", summary="Registered rasters")
def list_rasters(session: SessionDep) -> list[dict[str, Any]]:
    return geosocial.list_rasters(session.connection())


@router.get("/rasters/{raster_id}", summary="One registered raster's description")
def raster(session: SessionDep, raster_id: str) -> dict[str, Any]:
    return geosocial.raster_record(session.connection(), raster_id)


def _km2(box: tuple[float, float, float, float]) -> float:
    """The area of a lon/lat box, near enough for a limit (a sphere of radius 6,371 km)."""
    west, south, east, north = box
    radius = 6371.0
    band = math.sin(math.radians(north)) - math.sin(math.radians(south))
    return radius**2 * math.radians(east - west) * band


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise InvalidInputError("bbox: give four numbers, west,south,east,north") from exc
    if not (west < east and south < north):
        raise InvalidInputError("bbox: west must be < east and south < north")
    return west, south, east, north
