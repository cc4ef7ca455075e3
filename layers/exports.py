"""Write analysis results as files GIS tools open: GeoPackage, GeoJSON, or CSV without shapes.

GeoPackages are written as version 1.2, which every GDAL and QGIS in use reads (GDAL 3.6 and
QGIS 3.22 warn about the 1.4 that a newer GDAL writes by default).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import InvalidInputError

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}
GPKG_VERSION = "1.2"


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


def write_layer(frame: pd.DataFrame, path: Path, layer: str) -> Path:
    """Write ``frame`` as layer ``layer`` of ``path`` (replacing that layer); dicts become JSON.

    A GeoPackage or GeoJSON gets the frame's shapes (EPSG:4326); a CSV gets the attributes only.
    """
    driver = check_layer_path(path)
    plain = frame.copy()
    for column in plain.columns:
        if plain[column].map(lambda v: isinstance(v, dict | list)).any():
            plain[column] = plain[column].map(lambda v: json.dumps(v, ensure_ascii=False))
    if driver == "CSV":
        geometry = [c for c in plain.columns if isinstance(plain[c].dtype, gpd.array.GeometryDtype)]
        pd.DataFrame(plain.drop(columns=geometry)).to_csv(path, index=False)
        return path
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
