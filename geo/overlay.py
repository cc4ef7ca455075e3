"""Raster values at points and per zone, for overlays of surveys and Geo-social rasters."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray
from rasterio.io import DatasetReader
from rasterstats import zonal_stats

from geo.crs import require_crs

ZONAL_STATS = ("count", "mean", "min", "max", "median")


def sample_points(
    dataset: DatasetReader, points: gpd.GeoSeries, band: int = 1
) -> NDArray[np.float64]:
    """The value of ``band`` under each point; NaN outside the raster or on nodata.

    Parameters
    ----------
    dataset : rasterio dataset
        Open raster with a CRS.
    points : GeoSeries
        Points in EPSG:4326.
    """
    require_crs(points)
    if len(points) == 0:
        return np.array([], dtype=float)
    projected = points.to_crs(dataset.crs)
    x, y = projected.x.to_numpy(), projected.y.to_numpy()
    out = np.array([v[0] for v in dataset.sample(zip(x, y, strict=True), indexes=band)], float)
    if dataset.nodata is not None:
        out[out == dataset.nodata] = np.nan
    left, bottom, right, top = dataset.bounds
    out[(x < left) | (x >= right) | (y <= bottom) | (y > top)] = np.nan
    return out


def zonal(
    zones: gpd.GeoDataFrame,
    values: NDArray[np.floating],
    transform: Affine,
    crs: object,
    nodata: float | None,
    stats: tuple[str, ...] = ZONAL_STATS,
) -> pd.DataFrame:
    """Statistics of the raster cells whose centres fall in each zone (``rasterstats``).

    Parameters
    ----------
    zones : GeoDataFrame
        Polygons in EPSG:4326; the result keeps their index.
    values, transform, crs, nodata
        The raster band (or a window of it) and how it sits on the ground.
    """
    require_crs(zones)
    projected = zones.to_crs(crs)
    found = zonal_stats(
        list(projected.geometry),
        values,
        affine=transform,
        nodata=nodata,
        stats=list(stats),
        all_touched=False,
    )
    return pd.DataFrame(found, index=zones.index, columns=list(stats))
