"""Coordinate reference systems used for Thailand: storage in WGS 84, measures in UTM."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

WGS84 = 4326
UTM_47N = 32647
UTM_48N = 32648
#: UTM zone 47 spans 96°E to 102°E and zone 48 spans 102°E to 108°E.
#: Thailand with a margin for the sea and border areas, in degrees (west, south, east, north).
THAILAND_BOUNDS = (97.0, 5.0, 106.0, 21.0)
ZONE_BOUNDARY_LON = 102.0


def utm_epsg(lon: float) -> int:
    """EPSG code of the UTM zone (47N or 48N) that holds a longitude in Thailand."""
    return UTM_47N if lon < ZONE_BOUNDARY_LON else UTM_48N


def require_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, epsg: int = WGS84) -> None:
    """Raise ``ValueError`` unless ``frame`` is in the CRS ``epsg``."""
    if frame.crs is None or frame.crs.to_epsg() != epsg:
        raise ValueError(f"expected EPSG:{epsg}, got {frame.crs!r}")


def utm_epsg_of(geoms: gpd.GeoSeries) -> NDArray[np.int_]:
    """UTM zone of each geometry, chosen by the longitude of its representative point.

    Parameters
    ----------
    geoms : GeoSeries
        Geometries in EPSG:4326.

    Returns
    -------
    ndarray of int
        32647 or 32648 for each geometry.
    """
    require_crs(geoms)
    lon = geoms.representative_point().x.to_numpy()
    return np.where(lon < ZONE_BOUNDARY_LON, UTM_47N, UTM_48N)


def area_km2(geoms: gpd.GeoSeries) -> NDArray[np.float64]:
    """Area of each geometry in square kilometres, measured in its own UTM zone.

    Parameters
    ----------
    geoms : GeoSeries
        Polygonal geometries in EPSG:4326.

    Returns
    -------
    ndarray of float
        Areas in km², NaN for missing geometries.
    """
    zones = utm_epsg_of(geoms)
    areas = np.full(len(geoms), np.nan)
    for epsg in np.unique(zones):
        mask = zones == epsg
        areas[mask] = geoms[mask].to_crs(epsg).area.to_numpy() / 1e6
    return areas
