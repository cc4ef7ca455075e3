"""Administrative areas: list, one area as GeoJSON, and which areas hold a point."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api.auth import requires
from api.deps import PageDep, SessionDep
from geo.access import PUBLIC
from geo.vocab import AdminLevel
from layers.geography import areas

router = APIRouter(prefix="/areas", tags=["areas"], dependencies=[Depends(requires(PUBLIC))])


class Area(BaseModel):
    code: str
    level: str
    name_th: str | None
    name_en: str | None
    parent_code: str | None


class AreaList(BaseModel):
    items: list[Area]
    total: int
    limit: int
    offset: int


class Located(BaseModel):
    subdistrict: Area | None = None
    district: Area | None = None
    province: Area | None = None


class AreaProperties(Area):
    pcode: str | None
    area_km2: float | None
    source: str
    in_registry: bool | None
    parents: list[Area]


class AreaFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] | None
    properties: AreaProperties


@router.get("", response_model=AreaList, summary="Areas by level and parent, ordered by code")
def list_areas(
    session: SessionDep,
    paging: PageDep,
    level: AdminLevel | None = None,
    parent: Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="parent code")] = None,
) -> AreaList:
    found = areas.list_areas(
        session, level=level, parent=parent, limit=paging.limit, offset=paging.offset
    )
    return AreaList(
        items=[Area(**item) for item in found.items],
        total=found.total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/locate", response_model=Located, summary="The areas that contain a point")
def locate(
    session: SessionDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude, WGS 84")],
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude, WGS 84")],
) -> Located:
    return Located(
        **{level: Area(**unit) for level, unit in areas.locate(session, lat, lon).items()}
    )


@router.get("/{code}", response_model=AreaFeature, summary="One area as a GeoJSON Feature")
def get_area(
    session: SessionDep,
    code: Annotated[
        str, Path(pattern=r"^\d{2}(\d{2}(\d{2})?)?$", description="registry code: 2, 4 or 6 digits")
    ],
    simplify: Annotated[
        float | None, Query(gt=0, le=10_000, description="simplification tolerance in metres")
    ] = None,
) -> dict[str, Any]:
    return areas.get_area(session, code, simplify_m=simplify)
