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
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from api.auth import requires
from api.deps import AreaQuery, RoundQuery, SessionDep, SettingsDep, audit
from geo.maps import qgis
from geo.vocab import Dimension, Lang
from layers.access.users import User
from layers.delivery import catalog, writers

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
