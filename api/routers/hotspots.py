"""Hot and cold spots (Getis-Ord Gi*, Local Moran's I), run and stored as layers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import in_scope, requires
from api.deps import GEOJSON_OK, GeoJSONResponse, RowId, SessionDep, SettingsDep, geojson
from geo.errors import NotFoundError
from geo.vocab import Dimension, HotspotIndicator
from layers.access.users import User
from layers.analysis import runs as analysis

router = APIRouter(prefix="/hotspots", tags=["analysis"])


class HotspotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field("", pattern=r"^(\d{2}|\d{4})?$")
    level: Literal["subdistrict", "district"] = "subdistrict"
    indicator: HotspotIndicator = "problems_per_1000"
    round: int | None = Field(None, ge=2500, le=2700)
    dimension: Dimension | None = None
    permutations: int = Field(999, ge=99, le=9999)
    seed: int = Field(12345, ge=0, le=2**32 - 1)
    alpha: float = Field(0.05, gt=0, lt=0.5)


@router.post(
    "",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Run Gi* and Local Moran; the result is stored and returned (GeoJSON)",
)
def run(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:run"))],
    request: HotspotRequest,
) -> Response:
    conn = session.connection()
    run_id, _ = analysis.run_hotspots(
        conn,
        area=in_scope(user, request.area),
        level=request.level,
        round_=request.round,
        indicator=request.indicator,
        dimension=request.dimension,
        permutations=request.permutations,
        seed=request.seed,
        alpha=request.alpha,
    )
    layer = analysis.hotspot_layer(conn, run_id)
    session.commit()
    return geojson(layer, limit=settings.export_max_features, run=layer.attrs["run"])


@router.get(
    "/{run_id}",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="A stored hotspot run (GeoJSON)",
)
def get_run(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:area"))],
    run_id: RowId,
) -> Response:
    layer = analysis.hotspot_layer(session.connection(), run_id)
    if user is not None and not user.scope.covers_area(layer.attrs["run"]["area"]):
        raise NotFoundError(f"no hotspot run {run_id}")
    return geojson(layer, limit=settings.export_max_features, run=layer.attrs["run"])
