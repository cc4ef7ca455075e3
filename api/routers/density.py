"""Problem density: counts and rates on an H3 grid, and kernel density surfaces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

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
from geo.vocab import Dimension
from layers.access.users import User
from layers.analysis import runs as analysis

router = APIRouter(prefix="/density", tags=["analysis"])


def filters(
    dimension: Annotated[Dimension | None, Query(description="only this dimension")] = None,
    category: Annotated[str | None, Query(description="only this problem category")] = None,
    status: Annotated[str | None, Query(description="only this status")] = None,
) -> analysis.Filters:
    return analysis.Filters(dimension=dimension, category=category, status=status)


FiltersDep = Annotated[analysis.Filters, Depends(filters)]


@router.get(
    "/hexagons",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Households and problems per H3 cell (GeoJSON)",
)
def hexagons(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:read"))],
    chosen: FiltersDep,
    area: AreaQuery = "34",
    round: RoundQuery = None,
    resolution: Annotated[
        int | None, Query(ge=4, le=10, description="H3 resolution; default from the area's size")
    ] = None,
) -> Response:
    area = in_scope(user, area)
    cells = analysis.hexagons(
        session.connection(), area, round, chosen, resolution, user.scope if user else None
    )
    return geojson(
        cells, limit=settings.export_max_features, resolution=cells.attrs["resolution"], area=area
    )


class SurfaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field("34", pattern=r"^(\d{2}|\d{4}|\d{6})?$")
    round: int | None = Field(None, ge=2500, le=2700)
    dimension: Dimension | None = None
    category: str | None = Field(None, max_length=48)
    status: str | None = Field(None, max_length=24)
    cell_m: float = Field(250.0, ge=10, le=10_000)
    bandwidth_m: float | None = Field(None, gt=0, le=100_000)


@router.post("/surface", summary="Write a kernel density GeoTIFF and register it as a raster")
def surface(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:run"))],
    request: SurfaceRequest,
) -> dict[str, Any]:
    chosen = analysis.Filters(request.dimension, request.category, request.status)
    made = analysis.density_surface(
        session.connection(),
        settings,
        in_scope(user, request.area),
        request.round,
        chosen,
        cell_m=request.cell_m,
        bandwidth_m=request.bandwidth_m,
    )
    session.commit()
    return made
