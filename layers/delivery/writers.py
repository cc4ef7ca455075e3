"""Layers (``layers.delivery.catalog``) written as the files GIS tools open, styled for QGIS.

- GeoPackage 1.2 (``VERSION`` is a *dataset* option), an R-tree index per layer, the layer's
  metadata in ``gpkg_metadata`` (written by GDAL), its default style (QML and SLD) in QGIS's
  ``layer_styles`` table, people's names of its fields in the QML (what QGIS 3.22 reads) and in
  ``gpkg_data_columns`` (what newer GDAL and QGIS read), and a QGIS project in ``qgis_projects``.
- Shapefile: a zip of each layer's ``.shp/.shx/.dbf/.prj/.cpg`` and a ``.qml`` sidecar; field
  names cut to 10 characters by ``geo.tables.short_names``.
- FlatGeobuf (with its spatial index), GeoJSON (RFC 7946: WGS 84), CSV with shapes as WKT.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Connection

from geo.access import Scope
from geo.crs import UTM_47N, UTM_48N, WGS84, utm_epsg
from geo.errors import InvalidInputError, TooLargeError
from geo.maps import qgis
from geo.tables import short_names
from layers.delivery.catalog import Layer, LayerQuery, read_layer, spec_for
from layers.delivery.exports import plain_values, write_csv
from layers.store.files import GPKG_VERSION
from layers.store.settings import Settings

#: Each format's file suffix and media type.
FORMATS = {
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "shp": (".zip", "application/zip"),
    "fgb": (".fgb", "application/flatgeobuf"),
    "geojson": (".geojson", "application/geo+json"),
    "csv": (".csv", "text/csv; charset=utf-8"),
}
#: The formats that hold several layers in one file.
MULTI_LAYER = ("gpkg", "shp")
CRS_CHOICES = ("4326", "32647", "32648", "utm")
#: The update time in the form GDAL expects of ``layer_styles`` (and QGIS writes).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
PROJECT = "bamrung"
SQLITE_CACHE_MB = "128"
LAYER_STYLES = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
    styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
"""
DATA_COLUMNS = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
    table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
    description TEXT, mime_type TEXT, constraint_name TEXT,
    CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
    CONSTRAINT gdc_tn UNIQUE (table_name, name));
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
    constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC,
    min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
    CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));
"""
SCHEMA_EXTENSION = "http://www.geopackage.org/spec120/#extension_schema"


def output_crs(crs: str, layers: Sequence[Layer]) -> int:
    """The EPSG code of ``crs`` ('utm': the UTM zone of the layers' centre)."""
    if crs not in CRS_CHOICES:
        raise InvalidInputError(f"crs: {crs!r} is not one of {', '.join(CRS_CHOICES)}")
    if crs != "utm":
        return int(crs)
    shaped = [
        lay.frame for lay in layers if isinstance(lay.frame, gpd.GeoDataFrame) and len(lay.frame)
    ]
    if not shaped:
        return UTM_47N
    west, _, east, _ = _extent([f.to_crs(WGS84) for f in shaped])
    return utm_epsg((west + east) / 2)


def check_format(fmt: str, layers: int, crs: str) -> str:
    """The file suffix of ``fmt``, refusing a format, CRS or number of layers it cannot hold."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if crs not in CRS_CHOICES:
        raise InvalidInputError(f"crs: {crs!r} is not one of {', '.join(CRS_CHOICES)}")
    if layers > 1 and fmt not in MULTI_LAYER:
        raise InvalidInputError(
            f"format: {fmt} holds one layer; write several layers as gpkg or shp"
        )
    if fmt == "geojson" and crs != "4326":
        raise InvalidInputError("crs: GeoJSON is WGS 84 only (RFC 7946): use crs 4326")
    return FORMATS[fmt][0]


def write(layers: Sequence[Layer], path: Path, fmt: str, epsg: int = WGS84) -> Path:
    """Write ``layers`` to ``path`` as ``fmt`` in EPSG ``epsg``; the file is replaced.

    Parameters
    ----------
    layers : sequence of Layer
        The layers, top first (the order of a GeoPackage's project).
    path : Path
        The file written.
    fmt : str
        One of :data:`FORMATS`.
    epsg : int
        4326, 32647 or 32648.

    Returns
    -------
    Path
        ``path``.
    """
    if epsg not in (WGS84, UTM_47N, UTM_48N):
        raise InvalidInputError(f"crs: EPSG:{epsg} is not one of 4326, 32647, 32648")
    if len(layers) > 1 and fmt not in MULTI_LAYER:
        raise InvalidInputError(f"format: {fmt} holds one layer")
    frames = [_projected(layer, epsg) for layer in layers]
    path.unlink(missing_ok=True)
    if fmt == "gpkg":
        _gpkg(layers, frames, path, epsg)
    elif fmt == "shp":
        _shapefiles(layers, frames, path)
    elif fmt == "csv":
        frame = frames[0]
        if isinstance(frame, gpd.GeoDataFrame):
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name)).assign(
                wkt=frame.geometry.to_wkt()
            )
        write_csv(frame, path)
    elif fmt == "geojson":
        _ogr(frames[0], path, layers[0].name, "GeoJSON", layer_options={"RFC7946": "YES"})
    else:
        _ogr(frames[0], path, layers[0].name, "FlatGeobuf", layer_options={"SPATIAL_INDEX": "YES"})
    return path


def _projected(layer: Layer, epsg: int) -> pd.DataFrame:
    frame = plain_values(layer.frame)
    if isinstance(frame, gpd.GeoDataFrame):
        return frame.to_crs(epsg)
    return frame


def _ogr(frame: pd.DataFrame, path: Path, name: str, driver: str, **options: object) -> None:
    # Through Arrow: GDAL takes whole columns, not one feature at a time (a third faster).
    pyogrio.write_dataframe(frame, path, layer=name, driver=driver, use_arrow=True, **options)


def _gpkg(layers: Sequence[Layer], frames: list[pd.DataFrame], path: Path, epsg: int) -> None:
    # SQLite's page cache in MB (GDAL's default is SQLite's 2 MB): the R-tree of a million
    # points is built in a third less time.
    pyogrio.set_gdal_config_options({"OGR_SQLITE_CACHE": SQLITE_CACHE_MB})
    for layer, frame in zip(layers, frames, strict=True):
        _ogr(
            frame,
            path,
            layer.name,
            "GPKG",
            dataset_options={"VERSION": GPKG_VERSION},
            layer_options={"SPATIAL_INDEX": "YES", "DESCRIPTION": layer.about["title"]},
            layer_metadata=layer.about,
            append=path.exists(),
        )
    now = dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)[:-3] + "Z"
    with sqlite3.connect(path) as db:
        db.executescript(LAYER_STYLES + DATA_COLUMNS)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier,"
            " last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
            (now,),
        )
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            db.execute(
                "INSERT OR IGNORE INTO gpkg_extensions (table_name, column_name, extension_name,"
                " definition, scope) VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
                (table, SCHEMA_EXTENSION),
            )
        for layer, frame in zip(layers, frames, strict=True):
            fields = fields_of(frame)
            geometry = "geom" if isinstance(frame, gpd.GeoDataFrame) else None
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
                " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description,"
                " owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'bamrung', NULL, ?)",
                (
                    layer.name,
                    geometry,
                    layer.name,
                    qgis.qml(layer.style, fields),
                    qgis.sld(layer.style, layer.name),
                    layer.style.title,
                    now,
                ),
            )
            _data_columns(db, layer, fields)
        extent = _extent(frames)
        project = qgis.project(
            " · ".join(dict.fromkeys(lay.about["area_name"] for lay in layers)),
            [
                qgis.ProjectLayer(
                    source=f"./{path.name}|layername={layer.name}",
                    name=layer.style.title,
                    style=layer.style,
                    fields=fields_of(frame),
                    epsg=epsg,
                    wkb_type=_wkb_type(frame),
                )
                for layer, frame in zip(layers, frames, strict=True)
            ],
            epsg,
            extent,
        )
        _store_project(db, project, now)


def _data_columns(db: sqlite3.Connection, layer: Layer, fields: list[str]) -> None:
    """People's names of the fields: ``name`` is what newer GDAL reads as the field's alias."""
    used: set[str] = set()
    for column in fields:
        alias = layer.style.aliases.get(column)
        if alias is None:
            continue
        if alias in used:  # the name is unique within a table
            alias = f"{alias} ({column})"
        used.add(alias)
        db.execute(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title,"
            " description) VALUES (?, ?, ?, ?, ?)",
            (layer.name, column, alias, alias, None),
        )


def _store_project(db: sqlite3.Connection, text: str, now: str) -> None:
    """The project as QGIS stores one in a GeoPackage: a zipped .qgs, hex-encoded."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{PROJECT}.qgs", text)
    db.execute(
        "CREATE TABLE IF NOT EXISTS qgis_projects"
        "(name TEXT PRIMARY KEY, metadata BLOB, content BLOB)"
    )
    metadata = json.dumps({"last_modified_time": now, "last_modified_user": "bamrung"})
    db.execute(
        "INSERT OR REPLACE INTO qgis_projects (name, metadata, content) VALUES (?, ?, ?)",
        (PROJECT, metadata, packed.getvalue().hex()),
    )


def fields_of(frame: pd.DataFrame) -> list[str]:
    """The fields a GIS file gets, in order (the shape column is not a field)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return [c for c in frame.columns if c != geometry]


def _wkb_type(frame: pd.DataFrame) -> str:
    if not isinstance(frame, gpd.GeoDataFrame) or not len(frame):
        return "NoGeometry"
    # By type id over the array: naming a million shapes one by one takes most of a second.
    kinds = set(np.unique(shapely.get_type_id(frame.geometry.to_numpy()))) - {-1}
    if kinds <= {0}:
        return "Point"
    if kinds <= {1, 5}:
        return "MultiLineString"
    return "MultiPolygon"


def _extent(frames: list[pd.DataFrame]) -> list[float]:
    shaped = [f for f in frames if isinstance(f, gpd.GeoDataFrame) and len(f)]
    if not shaped:
        return [0.0, 0.0, 1.0, 1.0]
    bounds = pd.DataFrame([f.total_bounds for f in shaped])
    return [bounds[0].min(), bounds[1].min(), bounds[2].max(), bounds[3].max()]


def _shapefiles(layers: Sequence[Layer], frames: list[pd.DataFrame], path: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for layer, frame in zip(layers, frames, strict=True):
            fields = fields_of(frame)
            short = short_names(fields)
            frame = frame.rename(columns=short)
            target = Path(folder) / f"{layer.name}.shp"
            _ogr(frame, target, layer.name, "ESRI Shapefile", encoding="UTF-8")
            style = qgis.LayerStyle(
                **{
                    **layer.style.__dict__,
                    "column": short.get(layer.style.column or "", layer.style.column),
                    "label": short.get(layer.style.label or "", layer.style.label),
                    "aliases": {short[c]: a for c, a in layer.style.aliases.items() if c in short},
                }
            )
            target.with_suffix(".qml").write_text(
                qgis.qml(style, [short[c] for c in fields]), "utf-8"
            )
            for part in sorted(Path(folder).glob(f"{layer.name}.*")):
                archive.write(part, part.name)


def export_file(
    conn: Connection,
    settings: Settings,
    names: Sequence[str],
    query: LayerQuery,
    scope: Scope | None,
    *,
    fmt: str,
    crs: str,
    path: Path,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Layer]:
    """Read the layers ``names`` as ``scope`` may see them and write them to ``path``.

    A GeoPackage also gets the area's outline (for its project), unless asked for already.
    More than ``limit`` features in all is refused before anything is written. ``progress``
    is told the percentage done after each layer read (reading is most of the work).
    """
    if not names:
        raise InvalidInputError("layer: name at least one layer")
    check_format(fmt, len(set(names)), crs)
    wanted = list(dict.fromkeys(names))
    if fmt == "gpkg" and "outline" not in wanted:
        wanted.insert(0, "outline")  # on top: it is drawn as an outline only
    for name in wanted:
        spec_for(name, scope)  # every name checked before any layer is read
    layers = []
    for done, name in enumerate(wanted, start=1):
        layers.append(read_layer(conn, settings, name, query, scope))
        if progress is not None:
            progress(80 * done // len(wanted))
    total = sum(len(layer.frame) for layer in layers)
    if limit is not None and total > limit:
        raise TooLargeError(
            f"{total:,} features, more than the {limit:,} of one download "
            "(BAMRUNG_EXPORT_MAX_FEATURES): narrow the area, or run the export as a job"
        )
    write(layers, path, fmt, output_crs(crs, layers))
    return layers
