"""Write layers as files GIS tools open: GeoPackage, zipped shapefile, FlatGeobuf, GeoJSON, CSV.

GeoPackages are written as version 1.2, which every GDAL and QGIS in use reads (GDAL 3.6 and
QGIS 3.22 warn about the 1.4 that a newer GDAL writes by default), with an R-tree index, each
layer's default QGIS style (QML, and SLD) in ``layer_styles``, Thai field names in the style and
in ``gpkg_data_columns``, metadata in ``gpkg_metadata``, and a QGIS project in ``qgis_projects``
that opens every layer styled. A shapefile comes zipped with a ``.cpg`` and a ``.qml`` sidecar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import InvalidInputError
from layers.store.files import GPKG_VERSION

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}
#: Text a spreadsheet would run as a formula: =, +, @, a tab or return first, or - before
#: something that is not a number.
FORMULA = re.compile(r"^(?:[=+@\t\r]|-(?![\d.]))")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell a spreadsheet would run as a formula quoted.

    Quoted with a leading apostrophe: CSVs of uploaded values are opened in Excel or LibreOffice.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: f"'{v}" if isinstance(v, str) and FORMULA.match(v) else v
            )
    return safe


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A CSV for people: UTF-8 with a byte-order mark (Excel then reads Thai), formulas quoted."""
    spreadsheet_safe(frame).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def check_layer_path(path: Path) -> str:
    """The driver for ``path``'s suffix; refuses any other suffix (before any work is done)."""
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInputError(
            f"{path}: write .gpkg, .geojson or .csv (not {path.suffix or 'a file without suffix'})"
        )
    if not path.parent.is_dir():
        raise InvalidInputError(f"{path}: the folder {path.parent} does not exist")
    return driver


def plain_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with dicts and lists as JSON text (no GIS format has such fields)."""
    plain = frame.copy()
    for column in plain.columns:
        if (
            plain[column].dtype == object
            and plain[column].map(lambda v: isinstance(v, dict | list)).any()
        ):
            plain[column] = plain[column].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
            )
    return plain


def write_layer(frame: pd.DataFrame, path: Path, layer: str) -> Path:
    """Write ``frame`` as layer ``layer`` of ``path`` (replacing that layer); dicts become JSON.

    A GeoPackage or GeoJSON gets the frame's shapes (EPSG:4326); a CSV gets the attributes only.
    """
    driver = check_layer_path(path)
    plain = plain_values(frame)
    if driver == "CSV":
        geometry = [c for c in plain.columns if isinstance(plain[c].dtype, gpd.array.GeometryDtype)]
        return write_csv(pd.DataFrame(plain.drop(columns=geometry)), path)
    if not isinstance(plain, gpd.GeoDataFrame):
        # A fault of the caller: every layer written as GIS file has shapes.
        raise RuntimeError(f"{layer}: no geometry to write to {path}")
    if driver == "GeoJSON":
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(plain.to_crs(4326), path, layer=layer, driver=driver)
    else:
        pyogrio.write_dataframe(
            plain, path, layer=layer, driver=driver, dataset_options={"VERSION": GPKG_VERSION}
        )
    return path
