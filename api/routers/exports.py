"""Layers as files for QGIS and other GIS tools, inside the caller's scope.

A GeoPackage carries each layer's style, Thai field names, metadata and a QGIS project; the
other formats are in ``layers.delivery.writers``. Without a login only the public layers
answer, from suppressed figures.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from api.auth import in_scope, requires
from api.deps import AreaQuery, RoundQuery, RowId, SessionDep, SettingsDep, audit
from geo.errors import NotFoundError
from geo.maps import qgis
from geo.vocab import Dimension, Lang
from layers.access.users import User
from layers.delivery import catalog, jobs, writers

router = APIRouter(prefix="/exports", tags=["delivery"])
Format = Literal["gpkg", "shp", "fgb", "geojson", "csv"]
Crs = Literal["4326", "32647", "32648", "utm"]
Caller = Annotated[User | None, Depends(requires("public"))]


def layer_query(
    area: AreaQuery = "",
    level: Annotated[
        Literal["province", "district", "subdistrict", "village", "household"] | None,
        Query(description="level of the areas (default: the one below the area)"),
    ] = None,
    round: RoundQuery = None,
    dimension: Annotated[Dimension | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=48)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    state: Annotated[str | None, Query(max_length=16, description="cases: a case state")] = None,
    indicator: Annotated[
        str, Query(max_length=64, description="the field a layer is coloured by")
    ] = "problems_per_1000",
    lang: Annotated[Lang, Query(description="names, legends and field aliases")] = "th",
) -> catalog.LayerQuery:
    return catalog.LayerQuery(
        area=area,
        level=level,
        round=round,
        dimension=dimension,
        category=category,
        status=status,
        state=state,
        indicator=indicator,
        lang=lang,
    )


LayerQueryDep = Annotated[catalog.LayerQuery, Depends(layer_query)]


class ExportRequest(BaseModel):
    """An export to run as a job: the layers, the file's format and CRS, and what to read."""

    model_config = ConfigDict(extra="forbid")

    layers: list[str] = Field(min_length=1, max_length=12)
    format: Format = "gpkg"
    crs: Crs = "4326"
    area: str = Field("", pattern=r"^(\d{2}|\d{4}|\d{6})?$")
    level: Literal["province", "district", "subdistrict", "village", "household"] | None = None
    round: int | None = Field(None, ge=2500, le=2700)
    dimension: Dimension | None = None
    category: str | None = Field(None, max_length=48)
    status: str | None = Field(None, max_length=24)
    state: str | None = Field(None, max_length=16)
    indicator: str = Field("problems_per_1000", max_length=64)
    lang: Lang = "th"


Account = Annotated[User | None, Depends(requires("account"))]


@router.post(
    "/jobs",
    status_code=202,
    summary="Run an export as a background job (for exports too large for one answer)",
    description="The worker (`bamrung worker`) reads the layers as the caller may see them and "
    "writes the file; poll `GET /exports/jobs/{id}` for its progress, then download it.",
)
def start_job(
    session: SessionDep, settings: SettingsDep, user: Account, body: ExportRequest
) -> JSONResponse:
    assert user is not None
    fields = body.model_dump(exclude={"layers", "format", "crs"})
    fields["area"] = in_scope(user, body.area)
    job_id = jobs.submit(
        session.connection(),
        user,
        body.layers,
        catalog.LayerQuery(**fields),
        fmt=body.format,
        crs=body.crs,
    )
    session.commit()
    jobs.defer(settings, job_id)
    where = f"/exports/jobs/{job_id}"
    return JSONResponse(
        {"id": job_id, "status": where}, status_code=202, headers={"Location": where}
    )


@router.get("/jobs", summary="The caller's export jobs, newest first")
def list_jobs(session: SessionDep, user: Account) -> list[dict[str, Any]]:
    assert user is not None
    return [jobs.status(job) for job in jobs.jobs_of(session.connection(), user)]


@router.get("/jobs/{job_id}", summary="An export job's state and progress, and its file's link")
def job_status(session: SessionDep, user: Account, job_id: RowId) -> dict[str, Any]:
    assert user is not None
    job = jobs.job_for(session.connection(), job_id, user)
    answer = jobs.status(job)
    if job.state == "done":
        answer["download"] = f"/exports/jobs/{job.id}/file"
    return answer


@router.get("/jobs/{job_id}/file", summary="Download a finished export job's file")
def job_file(
    request: Request, session: SessionDep, settings: SettingsDep, user: Account, job_id: RowId
) -> FileResponse:
    assert user is not None
    job = jobs.job_for(session.connection(), job_id, user)
    if job.state != "done" or job.file_name is None:
        raise NotFoundError(f"export job {job_id} has no file yet ({job.state})")
    audit(request, session, user, list(job.households), ["export"])
    fmt = job.request["format"]
    return FileResponse(
        jobs.folder(settings) / job.file_name,
        media_type=writers.FORMATS[fmt][1],
        filename=jobs.download_name(job),
    )


@router.get("", summary="The layers the caller may export")
def list_layers(user: Caller) -> dict[str, Any]:
    scope = user.scope if user else None
    return {
        "formats": list(writers.FORMATS),
        "crs": list(writers.CRS_CHOICES),
        "layers": [
            {"name": s.name, "title_th": s.title["th"], "title_en": s.title["en"]}
            for s in catalog.readable(scope)
        ],
    }


@router.get(
    "/{layer}",
    summary="One layer (and more with `also`) as a GIS file",
    description="GeoPackage 1.2 with each layer's QGIS style (QML and SLD in `layer_styles`), "
    "Thai field aliases, metadata and a QGIS project that opens them with the area's outline; "
    "a zip of shapefiles with `.cpg` and `.qml`; FlatGeobuf; GeoJSON (RFC 7946, WGS 84 only); "
    "CSV with WKT. More features than `BAMRUNG_EXPORT_MAX_FEATURES` answer 413. A file with "
    "household records is access-logged.",
    responses={200: {"content": {s[1]: {} for s in writers.FORMATS.values()}}},
)
def export_layer(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    query: LayerQueryDep,
    layer: str,
    format: Annotated[Format, Query(description="file format")] = "gpkg",
    crs: Annotated[Crs, Query(description="EPSG code, or utm: the area's UTM zone")] = "4326",
    also: Annotated[
        list[str] | None, Query(max_length=12, description="more layers in the same file")
    ] = None,
) -> FileResponse:
    scope = user.scope if user else None
    folder = Path(tempfile.mkdtemp(prefix="bamrung-export-"))
    suffix, media_type = writers.FORMATS[format]
    name = f"{layer}-{query.area or 'TH'}{suffix}"
    try:
        written = writers.export_file(
            session.connection(),
            settings,
            [layer, *(also or [])],
            query,
            scope,
            fmt=format,
            crs=crs,
            path=folder / name,
            limit=settings.export_max_features,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if user is not None:
        households = sorted({h for lay in written for h in lay.households})
        fields = sorted({str(c) for lay in written if lay.households for c in lay.frame.columns})
        audit(request, session, user, households, fields)
    return FileResponse(
        folder / name,
        media_type=media_type,
        filename=name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get(
    "/{layer}/style",
    summary="A layer's default style alone (QML for QGIS, or SLD)",
    description="Put the `.qml` beside a FlatGeobuf, GeoJSON or CSV with the same name: QGIS "
    "then opens it styled, with the Thai field names.",
)
def layer_style(
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    query: LayerQueryDep,
    layer: str,
    format: Annotated[Literal["qml", "sld"], Query()] = "qml",
) -> Response:
    read = catalog.read_layer(
        session.connection(), settings, layer, query, user.scope if user else None
    )
    if format == "sld":
        return Response(qgis.sld(read.style, layer), media_type="application/vnd.ogc.sld+xml")
    return Response(
        qgis.qml(read.style, writers.fields_of(read.frame)), media_type="application/xml"
    )
