"""Geo-social layers and registered rasters: what is loaded, and the features of a layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import requires
from api.deps import GEOJSON_OK, GeoJSONResponse, SessionDep, geojson
from geo.errors import InvalidInputError, TooLargeError
from layers import geosocial

router = APIRouter(tags=["layers"], dependencies=[Depends(requires("analysis:read"))])
MAX_FEATURES = 50_000


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
    kind: Annotated[str, Path(description="water_sources, waterways, flood_zones, ...")],
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees")] = None,
) -> Response:
    frame = geosocial.features_frame(session.connection(), kind, _bbox(bbox))
    if len(frame) > MAX_FEATURES:
        raise TooLargeError(f"{len(frame):,} features, more than {MAX_FEATURES:,}: narrow the bbox")
    return geojson(frame, kind=kind)


@router.get("/rasters", summary="Registered rasters")
def list_rasters(session: SessionDep) -> list[dict[str, Any]]:
    return geosocial.list_rasters(session.connection())


@router.get("/rasters/{raster_id}", summary="One registered raster's description")
def raster(session: SessionDep, raster_id: str) -> dict[str, Any]:
    return geosocial.raster_record(session.connection(), raster_id)


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
