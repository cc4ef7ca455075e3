"""Write analysis results as files GIS tools open: GeoPackage, GeoJSON, or CSV without shapes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import InvalidInputError

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}


def write_layer(frame: pd.DataFrame, path: Path, layer: str) -> Path:
    """Write ``frame`` as layer ``layer`` of ``path`` (replacing that layer); dicts become JSON."""
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInputError(
            f"{path}: write .gpkg, .geojson or .csv (not {path.suffix or 'no suffix'})"
        )
    plain = frame.copy()
    for column in plain.columns:
        if plain[column].map(lambda v: isinstance(v, dict | list)).any():
            plain[column] = plain[column].map(lambda v: json.dumps(v, ensure_ascii=False))
    if driver == "CSV" or not isinstance(plain, gpd.GeoDataFrame):
        geometry = [c for c in plain.columns if isinstance(plain[c].dtype, gpd.array.GeometryDtype)]
        pd.DataFrame(plain.drop(columns=geometry)).to_csv(path, index=False)
        return path
    if driver == "GeoJSON":
        path.unlink(missing_ok=True)
    pyogrio.write_dataframe(plain, path, layer=layer, driver=driver)
    return path
