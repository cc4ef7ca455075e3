"""Geo-social layers and registered rasters: what is loaded, and the features of a layer."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import requires
from api.deps import GEOJSON_OK, GeoJSONResponse, SessionDep, SettingsDep, geojson
from geo.errors import InvalidInputError, NotFoundError, TooLargeError
from geo.vocab import LAYER_KINDS
from layers.geography import geosocial

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
    kind: Annotated[str, Path(max_length=32, description=", ".join(LAYER_KINDS))],
    bbox: Annotated[
        str | None, Query(max_length=200, description="west,south,east,north in degrees")
    ] = None,
) -> Response:
    if kind not in LAYER_KINDS:
        raise NotFoundError(f"no kind of layer {kind!r}: use one of {', '.join(LAYER_KINDS)}")
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
def raster(session: SessionDep, raster_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
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
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidInputError("bbox: every number must be finite")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInputError(
            "bbox: degrees with west < east (-180 to 180) and south < north (-90 to 90)"
        )
    return west, south, east, north
