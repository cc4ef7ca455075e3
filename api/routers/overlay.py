"""Overlays of the survey with Geo-social layers and rasters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.auth import in_scope, requires
from api.deps import (
    GEOJSON_OK,
    AreaQuery,
    GeoJSONResponse,
    RoundQuery,
    SessionDep,
    SettingsDep,
    geojson,
)
from geo.tables import json_rows
from geo.vocab import AdminLevel, ZoneKind
from layers.access.users import User
from layers.analysis import overlay

router = APIRouter(prefix="/overlay", tags=["analysis"])
Reader = Annotated[User | None, Depends(requires("analysis:area"))]


@router.get("/zones", summary="Households and problems inside zones, per area")
def zones(
    session: SessionDep,
    user: Reader,
    level: Annotated[AdminLevel, Query()],
    kind: Annotated[list[ZoneKind], Query(description="zone kinds (repeat)")],
    area: AreaQuery = "",
    round: RoundQuery = None,
) -> list[dict[str, Any]]:
    frame = overlay.zone_exposure(
        session.connection(),
        kinds=tuple(kind),
        area=in_scope(user, area),
        level=level,
        round_=round,
    )
    return json_rows(frame)


@router.get("/water-access", summary="Distance to the nearest working water source, per area")
def water_access(
    session: SessionDep,
    user: Reader,
    level: Annotated[AdminLevel, Query()] = "district",
    area: AreaQuery = "34",
    round: RoundQuery = None,
) -> list[dict[str, Any]]:
    access = overlay.water_access(session.connection(), area=in_scope(user, area), round_=round)
    return json_rows(overlay.water_access_summary(access, level).reset_index())


@router.get(
    "/zonal",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Statistics of a registered raster per area (GeoJSON)",
)
def zonal(
    session: SessionDep,
    user: Reader,
    settings: SettingsDep,
    raster: Annotated[str, Query(description="registered raster id")],
    level: Annotated[AdminLevel, Query()],
    area: AreaQuery = "",
) -> Response:
    frame = overlay.zonal_by_area(
        session.connection(), settings, raster_id=raster, area=in_scope(user, area), level=level
    )
    return geojson(frame, limit=settings.export_max_features, raster=raster)
